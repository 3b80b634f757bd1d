"""Layers and graph rewrites of the light model: the mirror-image pair (flip averaging),
central difference convolutions (trained as such, folded into plain ones for export), the
training-only pixel map (pixel-wise binary supervision, dropped before export), MixStyle
(feature statistics mixed between crops in training, dropped before export) and the
training-only source head behind a gradient reversal (dropped before export)."""
import tensorflow as tf
import tf_keras as keras

from antispoof.core.errors import AntispoofError
from antispoof.models.specs import POOL


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


SOURCE_HEAD = "source"  # the name of the training-only source classifier's output


@keras.saving.register_keras_serializable(package="antispoof")
class GradientReversal(keras.layers.Layer):
    """The identity going forward; going back, the gradient times −``scale`` (Ganin &
    Lempitsky, "Unsupervised Domain Adaptation by Backpropagation", ICML 2015): what follows it
    learns to tell the sources apart, what precedes it learns features that do not."""

    def __init__(self, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, x):
        @tf.custom_gradient
        def reverse(y):
            return tf.identity(y), lambda dy: -self.scale * dy
        return reverse(x)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def with_source_head(model, sources):
    """The model with a training-only output: the pooled features (the layer ``pool``) through
    a gradient reversal to a linear classifier of ``sources`` training sources (logits), the
    adversary of domain-adversarial training. ``main_output`` drops it; the first output stays
    the model's score."""
    if sources < 2:
        raise AntispoofError(f"{model.name}: a source-adversarial head needs two training sources "
                             f"or more, not {sources}")
    reversed_ = GradientReversal(name="source_reversal")(model.get_layer(POOL).output)
    logits = keras.layers.Dense(sources, name=SOURCE_HEAD)(reversed_)
    return keras.Model(model.input, [*model.outputs, logits], name=model.name)


def main_output(model):
    """The model without its training-only outputs (the same layers, one flat graph)."""
    if len(model.outputs) == 1:
        return model
    return keras.Model(model.input, model.outputs[0], name=model.name)


@keras.saving.register_keras_serializable(package="antispoof")
class MixStyle(keras.layers.Layer):
    """MixStyle (Zhou et al., "Domain Generalization with MixStyle", ICLR 2021): in training,
    with probability ``p`` a batch's feature maps are re-styled with each channel's mean and
    standard deviation mixed (λ ~ Beta(α, α)) with those of another crop of the batch, drawn at
    random (the batches mix the training sources); at inference, the identity."""

    def __init__(self, p=0.5, alpha=0.1, **kwargs):
        super().__init__(**kwargs)
        self.p, self.alpha = p, alpha

    def call(self, x, training=None):
        if not training:
            return x
        mean = tf.stop_gradient(tf.reduce_mean(x, axis=[1, 2], keepdims=True))
        std = tf.stop_gradient(tf.sqrt(tf.math.reduce_variance(x, axis=[1, 2], keepdims=True) + 1e-6))
        batch = tf.shape(x)[0]
        first, second = (tf.random.gamma([batch, 1, 1, 1], self.alpha) for _ in range(2))
        mix = first / (first + second + 1e-12)  # Beta(α, α) from two Gamma(α) draws
        other = tf.random.shuffle(tf.range(batch))
        styled = (x - mean) / std * (mix * std + (1 - mix) * tf.gather(std, other)) \
            + mix * mean + (1 - mix) * tf.gather(mean, other)
        return tf.cond(tf.random.uniform([]) < self.p, lambda: styled, lambda: x)

    def get_config(self):
        return {**super().get_config(), "p": self.p, "alpha": self.alpha}


MIXSTYLE_STRIDES = (4, 8)  # after the last block at 1/4 and at 1/8 of the input side: the first stages
_MIXSTYLE = "antispoof>MixStyle"


def _rewired(model, config):
    """The model of ``config``, each layer with the weights of ``model``'s layer of its name."""
    rewired = keras.Model.from_config(config)
    for layer in rewired.layers:
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return rewired


def _reroute(config, old, new):
    """Every use of layer ``old``'s output in ``config`` (inbound nodes, outputs) becomes ``new``'s."""
    for layer in config["layers"]:
        for node in layer["inbound_nodes"]:
            for inbound in node:
                if inbound[0] == old:
                    inbound[0] = new
    for output in config["output_layers"]:
        if output[0] == old:
            output[0] = new


def with_mixstyle(model, p, alpha=0.1):
    """The same flat model with a MixStyle layer after the last block output at each of
    MIXSTYLE_STRIDES; ``without_mixstyle`` takes them out again."""
    config, taps = model.get_config(), []
    for stride in MIXSTYLE_STRIDES:
        side = -(-model.input_shape[1] // stride)
        found = [layer.name for layer in model.layers
                 if layer.name.endswith(_BLOCK_OUTPUTS) and layer.output_shape[1] == side]
        taps += found[-1:]
    if not taps:
        raise AntispoofError(f"{model.name}: no block output at 1/4 or 1/8 of the input side for MixStyle")
    for tap in taps:
        name = f"mixstyle_{tap}"
        _reroute(config, tap, name)
        entry = keras.saving.serialize_keras_object(MixStyle(p, alpha, name=name))
        entry.update(name=name, inbound_nodes=[[[tap, 0, 0, {}]]])
        at = next(i for i, layer in enumerate(config["layers"]) if layer["name"] == tap)
        config["layers"].insert(at + 1, entry)
    return _rewired(model, config)


def without_mixstyle(model):
    """The model without its MixStyle layers (each one's input takes its place)."""
    config = model.get_config()
    mixes = [layer for layer in config["layers"] if layer.get("registered_name") == _MIXSTYLE]
    if not mixes:
        return model
    for mix in mixes:
        config["layers"].remove(mix)
        _reroute(config, mix["name"], mix["inbound_nodes"][0][0][0])
    return _rewired(model, config)
