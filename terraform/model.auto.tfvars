# The model version production serves: a version id published under gs://<model_bucket>/models/
# (`python -m model list gs://<model_bucket>/models`). Changing it is a commit; a rollback is
# a revert. The deploy refuses a version whose manifest accuracy is under the floor
# (`python -m model check`). "" until the first training run has published a version: the
# service is not created without one.
model_version = ""
