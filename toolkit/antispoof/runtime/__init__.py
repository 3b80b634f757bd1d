"""Runtime: run a model file (LiteRT, tflite-runtime, tf.lite, Keras, the ONNX peer) and predict
on images, videos and cameras."""
