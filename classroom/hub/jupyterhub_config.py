# The classroom's JupyterHub configuration (classroom/README.md). classroom/classroom.py starts the hub, as root on
# the host, with the environment below; every setting a workshop may want to change is one CLASSROOM_* variable.
import json
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub provides it)

env = os.environ.get
NS = env("CLASSROOM_NAMESPACE", "classroom")
DATA = Path(env("CLASSROOM_DATA", "/srv/classroom"))
STATE = DATA / "hub"
HOMES = DATA / "homes"
SECRETS = json.loads((STATE / "secrets.json").read_text())
HUB_IP = env("CLASSROOM_HUB_IP", "127.0.0.1")  # the classroom's front address: reachable from seats, not the LAN
HUB_API = f"http://{HUB_IP}:{env('CLASSROOM_HUB_API_PORT', '8081')}"

# The public proxy (configurable-http-proxy, Debian's package, started by the hub) on CLASSROOM_BIND:CLASSROOM_PORT;
# its API and the hub's own API stay off the room's network. Learners' servers reach the hub's API at HUB_API.
c.JupyterHub.bind_url = f"http://{env('CLASSROOM_BIND', '127.0.0.1')}:{env('CLASSROOM_PORT', '8000')}"
c.JupyterHub.hub_bind_url = HUB_API
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env('CLASSROOM_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # the hub stopping (make classroom-down) stops every server and seat
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

# Every learner: a seat of their own (dockerlab_hub/seats.py) with their Docker engine, warm from the pool.
# The seats' settings (CLASSROOM_POOL, CLASSROOM_SEAT_*, CLASSROOM_IMAGES_*, …) are read by the spawner module.
c.JupyterHub.spawner_class = "dockerlab_hub.spawner.CourseSpawner"
c.CourseSpawner.hub_connect_url = HUB_API
c.CourseSpawner.cmd = ["jupyterhub-singleuser"]
c.CourseSpawner.notebook_dir = "/home/learner/course"
c.CourseSpawner.default_url = "/lab"
c.CourseSpawner.start_timeout = int(env("CLASSROOM_START_TIMEOUT", "600"))
c.CourseSpawner.http_timeout = 120

from dockerlab_hub.spawner import start_pool_when_the_hub_runs  # noqa: E402

start_pool_when_the_hub_runs()

# The instructor's progress page, and jupyterhub-idle-culler (stops idle servers: the whole seat).
python = sys.executable
idle = int(env("CLASSROOM_IDLE_TIMEOUT", "1800"))
c.JupyterHub.services = [
    {
        "name": "progress",
        "url": f"http://127.0.0.1:{env('CLASSROOM_PROGRESS_PORT', '10101')}",
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
