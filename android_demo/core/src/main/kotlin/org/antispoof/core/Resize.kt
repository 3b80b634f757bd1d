package org.antispoof.core

/**
 * Square resizing as the Python toolkit does it (`preprocess.to_model_input`, OpenCV 4.11 on
 * x86-64): area averaging when shrinking (cv2.INTER_AREA: same weights, same float sums, same
 * rounding; whole blocks for integer factors) and bilinear when enlarging (cv2.INTER_LINEAR's
 * 11-bit fixed-point weights and its vectorized two-step rounding). The Python suite checks
 * that both give the same bytes.
 */
object Resize {
    fun toSquare(src: RgbImage, size: Int): RgbImage {
        require(size > 0) { "size must be positive" }
        if (src.width == size && src.height == size) return src
        return if (minOf(src.width, src.height) > size) area(src, size, size) else linear(src, size, size)
    }

    private class Tap(val src: Int, val dst: Int, val alpha: Float)

    /** OpenCV's computeResizeAreaTab. */
    private fun areaTable(ssize: Int, dsize: Int, scale: Double): List<Tap> {
        val taps = ArrayList<Tap>()
        for (dx in 0 until dsize) {
            val fsx1 = dx * scale
            val fsx2 = fsx1 + scale
            val cellWidth = minOf(scale, ssize - fsx1)
            var sx1 = Math.ceil(fsx1).toInt()
            var sx2 = Math.floor(fsx2).toInt()
            sx2 = minOf(sx2, ssize - 1)
            sx1 = minOf(sx1, sx2)
            if (sx1 - fsx1 > 1e-3) taps.add(Tap(sx1 - 1, dx, ((sx1 - fsx1) / cellWidth).toFloat()))
            for (sx in sx1 until sx2) taps.add(Tap(sx, dx, (1.0 / cellWidth).toFloat()))
            if (fsx2 - sx2 > 1e-3) {
                taps.add(Tap(sx2, dx, (minOf(minOf(fsx2 - sx2, 1.0), cellWidth) / cellWidth).toFloat()))
            }
        }
        return taps
    }

    private fun saturate(v: Float): Byte = maxOf(0, minOf(255, Math.rint(v.toDouble()).toInt())).toByte()

    fun area(src: RgbImage, width: Int, height: Int): RgbImage {
        val scaleX = 1.0 / (width.toDouble() / src.width)
        val scaleY = 1.0 / (height.toDouble() / src.height)
        val ix = Math.rint(scaleX).toInt()
        val iy = Math.rint(scaleY).toInt()
        if (Math.abs(scaleX - ix) < Math.ulp(1.0) && Math.abs(scaleY - iy) < Math.ulp(1.0)) {
            return areaFast(src, width, height, ix, iy)
        }
        val xtab = areaTable(src.width, width, scaleX)
        val ytab = areaTable(src.height, height, scaleY)
        val out = RgbImage(width, height)
        val buf = FloatArray(width * 3)
        val sum = FloatArray(width * 3)
        var prevDy = -1
        for (tap in ytab) {
            java.util.Arrays.fill(buf, 0f)
            val row = tap.src * src.width * 3
            for (x in xtab) {
                for (c in 0 until 3) {
                    val s = (src.data[row + x.src * 3 + c].toInt() and 0xFF).toFloat()
                    buf[x.dst * 3 + c] = buf[x.dst * 3 + c] + s * x.alpha
                }
            }
            if (tap.dst != prevDy) {
                if (prevDy >= 0) store(sum, out, prevDy)
                for (i in sum.indices) sum[i] = tap.alpha * buf[i]
                prevDy = tap.dst
            } else {
                for (i in sum.indices) sum[i] += tap.alpha * buf[i]
            }
        }
        store(sum, out, prevDy)
        return out
    }

    private fun store(sum: FloatArray, out: RgbImage, dy: Int) {
        for (i in sum.indices) out.data[dy * out.width * 3 + i] = saturate(sum[i])
    }

    /** Integer shrink factors: OpenCV averages whole blocks (2×2 with integer rounding). */
    private fun areaFast(src: RgbImage, width: Int, height: Int, sx: Int, sy: Int): RgbImage {
        val out = RgbImage(width, height)
        val area = sx * sy
        val scale = 1f / area
        for (dy in 0 until height) for (dx in 0 until width) for (c in 0 until 3) {
            var total = 0
            for (y in dy * sy until dy * sy + sy) for (x in dx * sx until dx * sx + sx) total += src.get(x, y, c)
            out.data[(dy * width + dx) * 3 + c] =
                if (sx == 2 && sy == 2) ((total + 2) shr 2).toByte() else saturate(total * scale)
        }
        return out
    }

    private const val COEF_BITS = 11
    private const val COEF_SCALE = 1 shl COEF_BITS

    /** Source index and fixed-point weight of the left/top neighbour, per destination index.
     *  Columns past the border take the edge pixel alone; rows past it keep their fractional
     *  weights and read the edge row twice (both as OpenCV does). */
    private fun linearTable(ssize: Int, dsize: Int, rows: Boolean): Pair<IntArray, IntArray> {
        val scale = 1.0 / (dsize.toDouble() / ssize)
        val index = IntArray(dsize)
        val weight = IntArray(dsize)
        for (d in 0 until dsize) {
            var f = ((d + 0.5) * scale - 0.5).toFloat()
            var s = Math.floor(f.toDouble()).toInt()
            f -= s
            if (!rows && s < 0) { s = 0; f = 0f }
            if (!rows && s >= ssize - 1) { s = ssize - 1; f = 0f }
            index[d] = s
            weight[d] = Math.rint(((1f - f) * COEF_SCALE).toDouble()).toInt()
        }
        return Pair(index, weight)
    }

    fun linear(src: RgbImage, width: Int, height: Int): RgbImage {
        val (xs, xw) = linearTable(src.width, width, rows = false)
        val (ys, yw) = linearTable(src.height, height, rows = true)
        val out = RgbImage(width, height)
        for (dy in 0 until height) {
            val y0 = maxOf(0, minOf(ys[dy], src.height - 1))
            val y1 = maxOf(0, minOf(ys[dy] + 1, src.height - 1))
            val b0 = yw[dy]
            val b1 = COEF_SCALE - b0
            for (dx in 0 until width) {
                val x0 = xs[dx]
                val x1 = minOf(x0 + 1, src.width - 1)
                val a0 = xw[dx]
                val a1 = COEF_SCALE - a0
                for (c in 0 until 3) {
                    val top = src.get(x0, y0, c) * a0 + src.get(x1, y0, c) * a1
                    val bottom = src.get(x0, y1, c) * a0 + src.get(x1, y1, c) * a1
                    // OpenCV's vectorized vertical pass: 16-bit products, rounding at the end
                    val v = (((b0 * (top shr 4)) shr 16) + ((b1 * (bottom shr 4)) shr 16) + 2) shr 2
                    out.data[(dy * width + dx) * 3 + c] = maxOf(0, minOf(255, v)).toByte()
                }
            }
        }
        return out
    }
}
