# The browser libraries, pinned in package-lock.json; only what the pages load goes into the image.
FROM node:20-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
COPY --from=assets /assets/node_modules/idiomorph/dist node_modules/idiomorph/dist
RUN DJANGO_SECRET_KEY=collectstatic python manage.py collectstatic --noinput
EXPOSE 8000
# uvicorn as dashboard/webserver.py builds the command (the demo and the tests use the same one); no
# access log here: nginx in front keeps one, with wall display tokens redacted (deploy/nginx.conf).
CMD ["python", "-m", "dashboard.webserver", "--host", "0.0.0.0", "--port", "8000"]
