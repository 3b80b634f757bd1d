package org.antispoof.core

/** An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B (what the model takes). */
class RgbImage(val width: Int, val height: Int, val data: ByteArray = ByteArray(width * height * 3)) {
    init {
        require(width > 0 && height > 0) { "image size must be positive, got ${width}x$height" }
        require(data.size == width * height * 3) {
            "RGB data for ${width}x$height needs ${width * height * 3} bytes, got ${data.size}"
        }
    }

    /** Channel [c] of pixel ([x], [y]) as 0..255. */
    fun get(x: Int, y: Int, c: Int): Int = data[(y * width + x) * 3 + c].toInt() and 0xFF

    companion object {
        /** From packed ARGB ints (Android's Bitmap.getPixels): alpha dropped. */
        fun fromArgb(width: Int, height: Int, argb: IntArray): RgbImage {
            require(argb.size == width * height) { "need ${width * height} pixels, got ${argb.size}" }
            val data = ByteArray(width * height * 3)
            for (i in argb.indices) {
                val p = argb[i]
                data[3 * i] = (p shr 16).toByte()
                data[3 * i + 1] = (p shr 8).toByte()
                data[3 * i + 2] = p.toByte()
            }
            return RgbImage(width, height, data)
        }
    }
}
