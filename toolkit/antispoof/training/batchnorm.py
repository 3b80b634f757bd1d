"""Precise BatchNorm statistics after training from random initialisation (the server model)."""
import numpy as np
import tf_keras as keras


def precise_batchnorm(model, pixels, batches=20, batch_size=64, seed=0):
    """Set every BatchNorm layer's moving statistics to the average over ``batches`` batches of
    ``pixels`` of the statistics training would see ("precise BN", Wu & Johnson 2021).

    Trained from random initialisation, EfficientNet-B0's moving averages lag behind weights
    that are still moving fast: measured here after 3 epochs, the dev crops all came out spoof
    in inference mode (P(spoof) 0.99 for real faces) yet were well separated with batch
    statistics; after this, dev AUC was 0.996.
    """
    layers = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)
              and l.trainable]
    momenta = [l.momentum for l in layers]
    order = np.random.default_rng(seed).permutation(len(pixels))
    count = min(batches, max(1, len(pixels) // batch_size))
    try:
        for k in range(count):
            for layer in layers:
                layer.momentum = k / (k + 1)  # a running mean of the batches' statistics
            batch = pixels[order[k * batch_size:(k + 1) * batch_size]].astype(np.float32)
            model(batch, training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return count
