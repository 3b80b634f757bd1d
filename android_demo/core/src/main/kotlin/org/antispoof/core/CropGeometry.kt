package org.antispoof.core

/** A face box from the detector, in pixels of the frame. */
data class Box(val x: Int, val y: Int, val width: Int, val height: Int)

/** A square region of the frame: top-left corner and side, in pixels (may reach outside). */
data class Square(val x: Int, val y: Int, val side: Int)

/**
 * The crop that `antispoof prepare` and `antispoof predict` take around a detector box: a square
 * centred on the box whose side is `cropScale` times the box's longer side, parts outside the
 * frame black. Rounding is half to even, as Python's `round`.
 */
object CropGeometry {
    fun square(box: Box, cropScale: Double): Square {
        val side = maxOf(1, Math.rint(cropScale * maxOf(box.width, box.height)).toInt())
        val x = Math.rint(box.x + box.width / 2.0 - side / 2.0).toInt()
        val y = Math.rint(box.y + box.height / 2.0 - side / 2.0).toInt()
        return Square(x, y, side)
    }

    /** The square region of [frame] around [box], black where it leaves the frame. */
    fun cut(frame: RgbImage, box: Box, cropScale: Double): RgbImage {
        val s = square(box, cropScale)
        val out = RgbImage(s.side, s.side)
        val x0 = maxOf(s.x, 0)
        val y0 = maxOf(s.y, 0)
        val x1 = minOf(s.x + s.side, frame.width)
        val y1 = minOf(s.y + s.side, frame.height)
        if (x1 <= x0) return out
        for (y in y0 until y1) {
            System.arraycopy(frame.data, (y * frame.width + x0) * 3, out.data,
                ((y - s.y) * s.side + (x0 - s.x)) * 3, (x1 - x0) * 3)
        }
        return out
    }
}
