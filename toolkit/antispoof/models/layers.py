"""Layers and graph rewrites of the light model: the mirror-image pair (flip averaging),
central difference convolutions (trained as such, folded into plain ones for export) and the
training-only pixel map (pixel-wise binary supervision, dropped before export)."""
import tensorflow as tf
import tf_keras as keras

from antispoof.core.errors import AntispoofError


@keras.saving.register_keras_serializable(package="antispoof")
class MirrorPair(keras.layers.Layer):
    """A batch of crops followed by their mirror images: the batch doubles."""

    def call(self, images):
        return tf.concat([images, tf.reverse(images, axis=[2])], axis=0)


@keras.saving.register_keras_serializable(package="antispoof")
class PairMean(keras.layers.Layer):
    """The mean of a doubled batch's two halves: each crop's score and its mirror image's."""

    def call(self, scores):
        return tf.reduce_mean(tf.reshape(scores, [2, -1, scores.shape[-1]]), axis=0)


def central_difference_kernel(kernel, theta):
    """A depthwise kernel (kh, kw, channels, multiplier) with central difference folded in:
    conv(x, result) = conv(x, kernel) − θ · x_centre · Σ_spatial kernel (Yu et al., CVPR 2020),
    i.e. the centre tap less θ times the taps' sum. Exact, borders included."""
    kh, kw = int(kernel.shape[0]), int(kernel.shape[1])
    centre = tf.reshape(tf.one_hot(kh // 2 * kw + kw // 2, kh * kw, dtype=kernel.dtype), (kh, kw, 1, 1))
    return kernel - theta * centre * tf.reduce_sum(kernel, axis=(0, 1), keepdims=True)


@keras.saving.register_keras_serializable(package="antispoof")
class CentralDifferenceDepthwise(keras.layers.DepthwiseConv2D):
    """A depthwise convolution trained as a central difference convolution: its effective
    kernel is ``central_difference_kernel(depthwise_kernel, theta)``, which
    ``fold_central_difference`` writes into a plain DepthwiseConv2D for export."""

    def __init__(self, theta=0.7, **kwargs):
        super().__init__(**kwargs)
        self.theta = theta

    def call(self, inputs):
        outputs = keras.backend.depthwise_conv2d(
            inputs, central_difference_kernel(self.depthwise_kernel, self.theta),
            strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate,
            data_format=self.data_format)
        if self.use_bias:
            outputs = keras.backend.bias_add(outputs, self.bias, data_format=self.data_format)
        return self.activation(outputs) if self.activation is not None else outputs

    def get_config(self):
        return {**super().get_config(), "theta": self.theta}


_DEPTHWISE = "DepthwiseConv2D"
_CDC = keras.saving.get_registered_name(CentralDifferenceDepthwise)  # "antispoof>Central…"


def with_central_difference(model, theta):
    """The same flat model with every k×k (k > 1) depthwise convolution trained as a central
    difference convolution. Its function is unchanged at the start: the kernel is set so that
    its folded form is the original (centre tap w_c + θ·Σw / (1 − θ))."""
    if not 0 < theta < 1:
        raise AntispoofError(f"central difference theta must be in (0, 1), not {theta}")
    config = model.get_config()
    swapped = []
    for layer in config["layers"]:
        if layer["class_name"] == _DEPTHWISE and max(layer["config"]["kernel_size"]) > 1:
            layer["config"]["theta"] = theta
            layer.update(keras.saving.serialize_keras_object(
                CentralDifferenceDepthwise.from_config(layer["config"])))
            swapped.append(layer["config"]["name"])
    rewired = keras.Model.from_config(config)
    for layer in model.layers:
        weights = layer.get_weights()
        if layer.name in swapped:
            kernel = weights[0]
            total = kernel.sum(axis=(0, 1), keepdims=True) / (1 - theta)
            kh, kw = kernel.shape[:2]
            kernel = kernel.copy()
            kernel[kh // 2, kw // 2] += theta * total[0, 0]
            weights = [kernel, *weights[1:]]
        rewired.get_layer(layer.name).set_weights(weights)
    return rewired


def fold_central_difference(model):
    """The same model with each central difference convolution folded into a plain
    DepthwiseConv2D (same outputs, no extra op in the converted file)."""
    config = model.get_config()
    folded = {}
    for layer in config["layers"]:
        if layer.get("registered_name") == _CDC:
            folded[layer["config"]["name"]] = layer["config"].pop("theta")
            layer.update(keras.saving.serialize_keras_object(
                keras.layers.DepthwiseConv2D.from_config(layer["config"])))
    if not folded:
        return model
    plain = keras.Model.from_config(config)
    for layer in model.layers:
        weights = layer.get_weights()
        if layer.name in folded:
            weights = [central_difference_kernel(tf.constant(weights[0]), folded[layer.name]).numpy(),
                       *weights[1:]]
        plain.get_layer(layer.name).set_weights(weights)
    return plain


PIXEL_MAP = "pixel_map"  # the name of the training-only output
_BLOCK_OUTPUTS = ("_add", "_project_BN")  # a MobileNetV2 block's output (models.mobilenet_v2)


def with_pixel_map(model, stride=8):
    """The model with a second, training-only output: a 1×1 convolution and sigmoid on the
    last block output at 1/``stride`` of the input side, one P(spoof) per cell, to be trained
    towards the crop's label everywhere (pixel-wise binary supervision: George & Marcel,
    "Deep Pixel-wise Binary Supervision for Face Presentation Attack Detection", ICB 2019).
    ``main_output`` drops it again; the first output stays the model's score."""
    side = -(-model.input_shape[1] // stride)
    taps = [layer for layer in model.layers
            if layer.name.endswith(_BLOCK_OUTPUTS) and layer.output_shape[1] == side]
    if not taps:
        raise AntispoofError(f"{model.name}: no block output at 1/{stride} of the input side "
                             f"({side}×{side}) for the pixel map")
    pixel = keras.layers.Conv2D(1, 1, activation="sigmoid", name=PIXEL_MAP)(taps[-1].output)
    return keras.Model(model.input, [model.output, pixel], name=model.name)


def main_output(model):
    """The model without its training-only outputs (the same layers, one flat graph)."""
    if len(model.outputs) == 1:
        return model
    return keras.Model(model.input, model.outputs[0], name=model.name)
