FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
RUN DJANGO_SECRET_KEY=collectstatic python manage.py collectstatic --noinput
EXPOSE 8000
# No access log here: nginx in front keeps one, with wall display tokens redacted (deploy/nginx.conf).
CMD ["daphne", "--websocket_timeout", "-1", "--access-log", "/dev/null", "-b", "0.0.0.0", "-p", "8000", "config.asgi:application"]
