# The classroom's JupyterHub configuration (classroom/README.md). classroom/classroom.py starts the hub container
# with the environment below; every setting a workshop may want to change is one CLASSROOM_* variable.
import json
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub provides it)

env = os.environ.get
NS = env("CLASSROOM_NAMESPACE", "classroom")
DATA = Path(env("CLASSROOM_DATA", "/srv/classroom"))  # the same path on the host and in this container
STATE = DATA / "hub"
HOMES = DATA / "homes"
SECRETS = json.loads((STATE / "secrets.json").read_text())

# The hub and its proxy (configurable-http-proxy, started by the hub) listen in this container; learners'
# servers reach the hub's API over their own network, where this container is joined as CLASSROOM_HUB_CONTAINER.
c.JupyterHub.bind_url = "http://:8000"
c.JupyterHub.hub_bind_url = "http://0.0.0.0:8081"
c.JupyterHub.hub_connect_ip = env("CLASSROOM_HUB_CONTAINER", "")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # the hub stopping (make classroom-down) stops every server and engine
c.JupyterHub.concurrent_spawn_limit = int(env("CLASSROOM_CONCURRENT_SPAWNS", "10"))
c.JupyterHub.log_level = env("CLASSROOM_LOG_LEVEL", "INFO")
c.JupyterHub.template_vars = {"announcement_login": "Docker course workshop: first time here? Type the workshop "
                                                    "code too, and choose your password."}

# Sign-in: the workshop code makes an account at a learner's first sign-in; the instructor is the admin.
c.JupyterHub.authenticator_class = "dockerlab_hub.auth.WorkshopAuthenticator"
c.WorkshopAuthenticator.workshop_code = SECRETS["workshop_code"]
c.WorkshopAuthenticator.instructor = SECRETS["instructor"]
c.WorkshopAuthenticator.instructor_password = SECRETS["instructor_password"]
c.WorkshopAuthenticator.store_path = str(STATE / "learners.json")
c.WorkshopAuthenticator.signup_closed_file = str(STATE / "signup-closed")

# Every learner: the course container + their own Docker engine (dockerlab_hub/spawner.py).
c.JupyterHub.spawner_class = "dockerlab_hub.spawner.CourseSpawner"
c.CourseSpawner.course_namespace = NS
c.CourseSpawner.data_dir = str(DATA)
c.CourseSpawner.course_source = env("CLASSROOM_COURSE", "/srv/course")
c.CourseSpawner.hub_container = env("CLASSROOM_HUB_CONTAINER", "")
c.CourseSpawner.image = env("CLASSROOM_LEARNER_IMAGE", "dockerlab/classroom-learner:latest")
c.CourseSpawner.cmd = ["jupyterhub-singleuser"]
c.CourseSpawner.notebook_dir = "/home/learner/course"
c.CourseSpawner.default_url = "/lab"
c.CourseSpawner.mem_limit = env("CLASSROOM_NOTEBOOK_MEM", "1G")
c.CourseSpawner.cpu_limit = float(env("CLASSROOM_NOTEBOOK_CPUS", "1"))
c.CourseSpawner.engine_mem_limit = env("CLASSROOM_ENGINE_MEM", "2G")
c.CourseSpawner.engine_cpus = float(env("CLASSROOM_ENGINE_CPUS", "2"))
c.CourseSpawner.images_first = env("CLASSROOM_IMAGES_FIRST", "python python-full uv postgres redis registry").split()
c.CourseSpawner.images_later = env("CLASSROOM_IMAGES_LATER", "").split()
c.CourseSpawner.subnet_pool = env("CLASSROOM_SUBNET_POOL", "10.213.0.0/16")
# each learner's copy of the course (made at their first sign-in); CLASSROOM_SOLUTIONS=1 hands out the solutions too
c.CourseSpawner.course_paths = ["README.md", "pyproject.toml", "notebooks", "exercises", "sample_apps", "src"] + (
    ["solutions"] if env("CLASSROOM_SOLUTIONS", "0") == "1" else [])
c.CourseSpawner.start_timeout = int(env("CLASSROOM_START_TIMEOUT", "600"))
c.CourseSpawner.http_timeout = 120

# The instructor's progress page, and jupyterhub-idle-culler (stops idle servers: notebook and engine).
python = sys.executable
idle = int(env("CLASSROOM_IDLE_TIMEOUT", "1800"))
c.JupyterHub.services = [
    {
        "name": "progress",
        "url": "http://127.0.0.1:10101",
        "command": [python, "-m", "dockerlab_hub.progress"],
        "environment": {"CLASSROOM_HOMES": str(HOMES), "CLASSROOM_NOT_LEARNERS": SECRETS["instructor"]},
        "oauth_no_confirm": True,
        "display": True,
    },
    {
        "name": "idle-culler",
        "command": [python, "-m", "jupyterhub_idle_culler", f"--timeout={idle}",
                    f"--cull-every={int(env('CLASSROOM_CULL_EVERY', str(max(idle // 4, 30))))}"],
    },
]
c.JupyterHub.load_roles = [
    # learners may open the progress service (it shows each learner only their own records)
    {"name": "user", "scopes": ["self", "access:services!service=progress"]},
    # the culler's permissions: https://github.com/jupyterhub/jupyterhub-idle-culler#permissions
    {"name": "idle-culler", "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
     "services": ["idle-culler"]},
]
