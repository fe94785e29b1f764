"""Talks to the server with the standard V2 client, ``tritonclient.http``, unchanged.

Run by test_v2_client.py in an interpreter that has tritonclient (it may be another venv):
    python triton_check.py HOST:PORT VERSION IMAGES.npy
prints one JSON object with what the client got back.
"""

import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def main() -> None:
    url, version, images_path = sys.argv[1:4]
    x = np.load(images_path).astype(np.float32)
    client = httpclient.InferenceServerClient(url=url, network_timeout=10.0)
    out = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready("mnist"),
        "model_ready_version": client.is_model_ready("mnist", model_version=version),
        "server": client.get_server_metadata(),
        "metadata": client.get_model_metadata("mnist"),
        "runs": {},
    }
    for binary in (True, False):
        image = httpclient.InferInput("image", list(x.shape), "FP32")
        image.set_data_from_numpy(x, binary_data=binary)
        outputs = [
            httpclient.InferRequestedOutput("probabilities", binary_data=binary),
            httpclient.InferRequestedOutput("prediction", binary_data=not binary),
        ]
        result = client.infer(
            "mnist",
            [image],
            outputs=outputs,
            request_id=f"req-{binary}",
            model_version=version if binary else "",
        )
        out["runs"][str(binary)] = {
            "id": result.get_response()["id"],
            "probabilities": result.as_numpy("probabilities").tolist(),
            "prediction": result.as_numpy("prediction").tolist(),
        }
    # No outputs named: the client asks for every output as binary data.
    u8 = np.round(x * 255).astype(np.uint8).reshape(-1, 28, 28)
    image = httpclient.InferInput("image", list(u8.shape), "UINT8")
    image.set_data_from_numpy(u8)
    result = client.infer("mnist", [image])
    out["runs"]["uint8"] = {
        "prediction": result.as_numpy("prediction").tolist(),
        "probabilities": result.as_numpy("probabilities").tolist(),
    }
    try:
        bad = httpclient.InferInput("pixels", list(x.shape), "FP32")
        bad.set_data_from_numpy(x)
        client.infer("mnist", [bad])
        out["error"] = None
    except InferenceServerException as exc:
        out["error"] = exc.message()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
