"""gunicorn settings for the APTIC web processes: `gunicorn -c deploy/gunicorn.conf.py 'aptic:create_app()'`.

Sizes come from the environment (see aptic.env) so that one file serves every machine.
"""

import multiprocessing
import os

bind = os.environ.get("APTIC_WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("APTIC_WEB_WORKERS") or multiprocessing.cpu_count() * 2)
# Keep APTIC_DATABASE_POOL_SIZE at least equal to the threads of one worker.
threads = int(os.environ.get("APTIC_WEB_THREADS", "1"))
timeout = int(os.environ.get("APTIC_WEB_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# The app is built once in the master (configuration errors stop the start), then forked.
preload_app = True
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("APTIC_WEB_FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_fork(server, worker):
    # Connections opened in the master must not be shared with the children: each worker opens its own.
    server.app.wsgi().extensions["aptic.db"].engine.dispose(close=False)
