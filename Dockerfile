# Two images from one file, on one pinned base:
# - default (the LAST stage): the serving image for Cloud Run. functions-framework (ASGI
#   mode) + LiteRT + numpy and function/ only: no TensorFlow, no MLflow, no training code.
#     docker build -t digitrun .
# - target `train`: the training job (Cloud Run job). TensorFlow, Keras, MLflow, model/ and
#   function/ (the artifact contract); its arguments go to `python -m model train`.
#     docker build --target train -t digitrun-train .
# Without a Docker engine: python -m scripts.image build [--target train] (podman).
# checkov:skip=CKV_DOCKER_2: Cloud Run ignores HEALTHCHECK; its startup and liveness probes (GET /v2/health/ready, /v2/health/live) are set by Terraform.

# The serving dependencies by hash: requirements/serving.lock names every wheel the stage
# installs (transitive packages included) with its sha256, made from serving.txt +
# constraints.txt for this base's platform by `make lock` (scripts/lock_image.py). pip
# refuses a file whose hash differs, a package the lock does not list (--no-deps) and any
# sdist (no build step runs code from the index); `pip check` proves the set is complete.
FROM python:3.11.14-slim-bookworm AS serving-deps
WORKDIR /app
COPY requirements/serving.lock requirements/
RUN python -m venv /venv \
    && /venv/bin/pip install --no-cache-dir --disable-pip-version-check \
       --require-hashes --no-deps --only-binary=:all: -r requirements/serving.lock \
    && /venv/bin/pip check

# The training job: the serving venv plus TensorFlow, Keras and MLflow (train.txt starts
# with -r serving.txt: pip keeps the serving packages already installed), installed in
# place: the two share their pinned packages, and the 2 GB venv is not copied into one more
# layer. Pinned by version (constraints.txt), not yet by hash: its closure includes
# setuptools and wheel, which constraints.txt does not pin.
FROM serving-deps AS train
# A home for Keras' dataset cache and matplotlib's config; /app itself is writable by the
# job for MLflow's default store (/app/mlflow.db, /app/mlartifacts); the code stays root's.
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin digitrun
COPY requirements/serving.txt requirements/train.txt requirements/constraints.txt requirements/
RUN /venv/bin/pip install --no-cache-dir --disable-pip-version-check \
       -r requirements/train.txt -c requirements/constraints.txt
ENV PATH=/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2
WORKDIR /app
COPY function/ function/
COPY model/ model/
RUN python -m compileall -q function/ model/ && chown 10001 /app
USER 10001
# The job's arguments, e.g. --arch cnn --publish gs://BUCKET/models
ENTRYPOINT ["python", "-m", "model", "train"]

FROM python:3.11.14-slim-bookworm AS serving
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin digitrun
COPY --from=serving-deps /venv /venv
WORKDIR /app
COPY function/ function/
# Compiled once here: the runtime user cannot write __pycache__, and every cold start
# would otherwise compile function/ again.
RUN python -m compileall -q function/
# XDG_RUNTIME_DIR: where gunicorn (>= 25.1) puts its control socket. Unset, it makes
# $HOME/.gunicorn, and this user has no home: "[ERROR] Control server error: Permission
# denied". /tmp is writable by this user on Cloud Run (in memory) and under a read-only root.
ENV PATH=/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XDG_RUNTIME_DIR=/tmp \
    PORT=8080
USER 10001
EXPOSE 8080
# MODEL_URI is set by the Cloud Run service: /mnt/models/models/<version> (the model bucket
# mounted read-only) or gs://BUCKET/models/<version>.
CMD ["functions-framework", "--asgi", "--target=serve", "--source=function/main.py"]
