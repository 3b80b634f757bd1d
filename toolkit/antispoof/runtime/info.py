"""What a model file holds: size, parameters or tensors, input, quantization, ops."""
from collections import Counter
from pathlib import Path

import numpy as np

from antispoof.runtime.interpreter import make_interpreter


def model_info(path):
    path = Path(path)
    if path.suffix in (".keras", ".h5"):
        return _keras_info(path)
    return _tflite_info(path)


def _keras_info(path):
    from antispoof.models.builders import load_model

    model = load_model(path)
    return {
        "file": str(path),
        "format": "keras",
        "size_bytes": path.stat().st_size,
        "parameters": int(model.count_params()),
        "trainable_parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "layers": len(model.layers),
        "input_shape": list(model.input_shape[1:]),
        "input_dtype": model.input.dtype.name,
        "quantization": "float32",
    }


def _tflite_info(path):
    interpreter, runtime, version = make_interpreter(path, default_delegates=False)
    tensors = interpreter.get_tensor_details()
    ops = Counter(op["op_name"] for op in interpreter._get_ops_details())

    def describe(detail):
        scale, zero_point = detail["quantization"]
        return {"name": detail["name"], "shape": detail["shape"].tolist(),
                "dtype": np.dtype(detail["dtype"]).name,
                "quantization": {"scale": float(scale), "zero_point": int(zero_point)}}

    inputs = [describe(d) for d in interpreter.get_input_details()]
    outputs = [describe(d) for d in interpreter.get_output_details()]
    weight_types = {np.dtype(t["dtype"]).name for t in tensors if t["quantization"][0] and
                    np.dtype(t["dtype"]) in (np.int8, np.uint8)}
    if inputs[0]["dtype"] in ("int8", "uint8"):
        quantization = f"full-integer ({inputs[0]['dtype']} input and output)"
    elif weight_types:
        quantization = "dynamic-range (int8 weights, float input)"
    else:
        quantization = "float"
    return {
        "file": str(path),
        "format": "tflite",
        "size_bytes": path.stat().st_size,
        "tensors": len(tensors),
        "inputs": inputs,
        "outputs": outputs,
        "input_shape": inputs[0]["shape"][1:],
        "input_dtype": inputs[0]["dtype"],
        "quantization": quantization,
        "ops": dict(sorted(ops.items())),
        "runtime": f"{runtime} {version}",
    }
