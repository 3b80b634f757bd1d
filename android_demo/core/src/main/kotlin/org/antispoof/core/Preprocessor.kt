package org.antispoof.core

/**
 * A frame and a detector box → the model's input tensor, exactly as the Python toolkit builds
 * it: the square crop (CropGeometry), resized to the input size (Resize), then quantized with
 * the input's scale and zero point (int8 or uint8), or left as 0..255 floats.
 */
class Preprocessor(private val contract: ModelContract) {
    fun crop(frame: RgbImage, box: Box): RgbImage =
        Resize.toSquare(CropGeometry.cut(frame, box, contract.cropScale), contract.inputSize)

    /** Quantized input bytes (int8 or uint8 tensor), in the model's pixel order. */
    fun quantize(crop: RgbImage): ByteArray {
        val q = contract.input
        require(q.dtype == "int8" || q.dtype == "uint8") { "input dtype ${q.dtype} is not quantized" }
        val low = if (q.dtype == "int8") -128 else 0
        val out = ByteArray(crop.data.size)
        for (i in out.indices) {
            val pixel = crop.data[i].toInt() and 0xFF
            val v = if (q.scale == 1.0) pixel + q.zeroPoint else Math.rint(pixel / q.scale + q.zeroPoint).toInt()
            out[i] = maxOf(low, minOf(low + 255, v)).toByte()
        }
        return out
    }

    /** P(spoof) from the raw output integer. */
    fun score(raw: Int): Double = (raw - contract.output.zeroPoint) * contract.output.scale
}
