"""The digitrun client: sends a PNG, MNIST test digits or a batch to a digitrun endpoint
(local or Cloud Run) through each protocol the service speaks, prints the answers and their
latency, checks the accuracy on labelled digits against a floor, and adds a Google ID token
when the service is private. ``python -m client --help``; flags, environment variables and
exit codes in ``client/README.md``.

Modules: ``cli`` (the command line), ``options`` (flags and their environment fallbacks),
``runner`` (sending through a protocol, accuracy), ``protocols`` (one sender per protocol),
``v2`` (the Open Inference Protocol V2 binary builder and reader), ``transport`` (one timed
HTTP exchange, its errors), ``auth`` (the ID token), ``digits`` (labelled test digits),
``png`` (PNG encoding without an imaging library), ``report`` (what is printed), ``errors``.
"""
