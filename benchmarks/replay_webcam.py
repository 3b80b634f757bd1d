"""Cross-dataset check (work in progress for #13): AUC, and APCER/BPCER at the NUAA-dev
threshold from the run's metrics.json, of an int8 model on every replay-webcam crop. Evaluation
only: nothing here trains or tunes on replay-webcam.

    python benchmarks/replay_webcam.py RUN/antispoof_int8.tflite RUN/metrics.json
"""
import json, sys
import numpy as np
import antispoof
from antispoof.data import FaceDataset, load_images
from antispoof.runtime import TFLiteClassifier
from antispoof.metrics import roc_auc
model, metrics = sys.argv[1], sys.argv[2]
threshold = json.load(open(metrics))["int8"]["threshold"]
c = TFLiteClassifier(model)
ds = FaceDataset('../shared/data/replay-webcam')
imgs = load_images(ds.samples, c.input_size)
s = c.predict(imgs.pixels); y = imgs.labels
print(json.dumps({"model": model, "n": len(y), "auc": roc_auc(y, s), "threshold": threshold,
                  "apcer": float((s[y == 1] < threshold).mean()), "bpcer": float((s[y == 0] >= threshold).mean())}))
