"""The classroom's JupyterHub pieces (see classroom/README.md): a workshop-code authenticator
(:mod:`.auth`), the spawner that gives every learner the course container plus their own Docker engine
(:mod:`.spawner`) and the instructor's progress service (:mod:`.progress`)."""
