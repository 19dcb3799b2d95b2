# Builds the editor (sourced by config/up.sh and config/test.sh): npm packages from the lock file,
# the API client's types generated from the live OpenAPI schema, then the Vite bundle and its gzip
# twins (whitenoise serves them compressed, with a year's cache on the content-hashed names).
build_frontend() {
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
  .venv/bin/python manage.py export_openapi > frontend/src/api/openapi.json
  (cd frontend && npx openapi-typescript src/api/openapi.json -o src/api/schema.d.ts >/dev/null && npx tsc --noEmit && npx vite build --logLevel warn)
  .venv/bin/python -m whitenoise.compress -q --no-brotli frontend/static/frontend/dist
}
