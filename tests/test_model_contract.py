"""The model contract (``model.json``): the dataclass that reads and writes it, byte for byte
against the shipped file, and the server model's contract that records no threshold."""
import json

from antispoof.core.model_contract import ModelContract, Quantization, read_contract
from antispoof.core.rundir import CONTRACT_FILE
from antispoof.core.shipped import DEFAULT_MODEL

CONTRACT = DEFAULT_MODEL.with_name(CONTRACT_FILE)


def test_the_contract_dataclass_is_the_shipped_model_json():
    """ModelContract reads the shipped model.json and writes it back byte for byte."""
    contract = read_contract(DEFAULT_MODEL)
    assert isinstance(contract, ModelContract) and contract.model == DEFAULT_MODEL.name
    assert json.dumps(contract.to_json(), indent=2) + "\n" == CONTRACT.read_text()
    assert contract.threshold_of(DEFAULT_MODEL.name) == (contract.threshold, contract.threshold_source)
    assert contract.threshold_of(contract.mediapipe_model)[0] == contract.threshold
    assert contract.threshold_of("other.tflite") == (None, None)


def test_a_contract_without_a_threshold_reads_back(tmp_path):
    """The server model's contract records no threshold (null): it reads back as None."""
    contract = ModelContract(model="server.tflite", input_size=224, threshold=None,
                             input=Quantization("float32", 1.0, 0), output=Quantization("float32", 1.0, 0))
    contract.write(tmp_path)
    assert json.loads((tmp_path / CONTRACT_FILE).read_text())["threshold"] is None
    assert read_contract(tmp_path / "server.tflite") == contract
    assert contract.threshold_of("server.tflite") == (None, None)


def test_the_contract_names_the_resize_filter(tmp_path):
    """model.json says how the crop is resized (area, as training saw it); a filter antispoof
    does not feed is refused when the contract is read."""
    import pytest

    from antispoof.core.errors import AntispoofError

    assert json.loads(CONTRACT.read_text())["resize"] == "area" == read_contract(DEFAULT_MODEL).resize
    other = {**json.loads(CONTRACT.read_text()), "resize": "bilinear"}
    (tmp_path / CONTRACT_FILE).write_text(json.dumps(other))
    with pytest.raises(AntispoofError, match="resize filter 'bilinear' is not one antispoof feeds"):
        read_contract(tmp_path / DEFAULT_MODEL.name)
