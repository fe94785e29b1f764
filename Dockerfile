# The serving image for Cloud Run: functions-framework (ASGI mode) + LiteRT + numpy.
# No TensorFlow, no MLflow, no training code. Build: docker build -t digitrun .
FROM python:3.11.14-slim-bookworm AS build
WORKDIR /app
COPY requirements/serving.txt requirements/constraints.txt requirements/
RUN python -m venv /venv \
    && /venv/bin/pip install --no-cache-dir --disable-pip-version-check \
       -r requirements/serving.txt -c requirements/constraints.txt

FROM python:3.11.14-slim-bookworm
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin digitrun
COPY --from=build /venv /venv
WORKDIR /app
COPY function/ function/
# Compiled once here: the runtime user cannot write __pycache__, and every cold start
# would otherwise compile function/ again.
RUN python -m compileall -q function/
ENV PATH=/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8080
USER 10001
EXPOSE 8080
# MODEL_URI (gs://BUCKET/PREFIX/VERSION) is set by the Cloud Run service.
CMD ["functions-framework", "--asgi", "--target=serve", "--source=function/main.py"]
