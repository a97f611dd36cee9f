"""gunicorn settings for cartmonitor, from the environment (README "Deploying").

gunicorn reads ./gunicorn.conf.py by itself, so production runs a plain `gunicorn` from the
project folder. TLS ends at the hospital's load balancer; gunicorn speaks plain http behind it.
"""

import multiprocessing
import os

wsgi_app = "cartmonitor.wsgi:application"

# Loopback by default: exposing the app server needs a deliberate GUNICORN_BIND=0.0.0.0:8000.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# gunicorn's rule of thumb, 2 x cores + 1, capped at 8: each worker thread holds its own
# PostgreSQL connection (CONN_MAX_AGE=60), so servers x workers x threads must stay well under
# the database's max_connections (100 by default).
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8)))
# A few threads per worker let one slow request (a big course page) not block the others.
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
# A check's save takes milliseconds; a request still running after 30 s is stuck, not busy.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Restart workers now and then so a slow leak can never take a ward offline.
max_requests = 2000
max_requests_jitter = 200

# One line per request on stdout, errors on stderr: journald (or the container runtime)
# keeps them. %({x-forwarded-for}i)s is the client behind the load balancer.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s %({x-forwarded-for}i)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'

# Addresses of the load balancers allowed to tell gunicorn the original scheme
# (X-Forwarded-Proto). gunicorn's own default: only this machine.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
