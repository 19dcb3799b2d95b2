# Builds the editor (sourced by config/up.sh and config/test.sh): npm packages from the lock file,
# the API client's types generated from the live OpenAPI schema, then the Vite bundle.
build_frontend() {
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
  .venv/bin/python manage.py export_openapi > frontend/src/api/openapi.json
  (cd frontend && npx openapi-typescript src/api/openapi.json -o src/api/schema.d.ts >/dev/null && npx tsc --noEmit && npx vite build --logLevel warn)
}
