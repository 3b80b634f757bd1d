package org.antispoof.demo

import android.content.Context
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.graphics.RectF
import android.util.AttributeSet
import android.view.View

/**
 * Boxes, labels and scores over the camera preview. Frame coordinates are mapped as PreviewView
 * shows the frame (FILL_CENTER), mirrored for the front camera.
 */
class OverlayView(context: Context, attrs: AttributeSet?) : View(context, attrs) {
    private var frame: FrameResult? = null
    var mirrored = true
    private val box = Paint().apply { style = Paint.Style.STROKE; strokeWidth = 6f }
    private val text = Paint().apply { textSize = 44f; isFakeBoldText = true }

    fun show(result: FrameResult) {
        frame = result
        postInvalidate()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        val f = frame ?: return
        val scale = maxOf(width.toFloat() / f.width, height.toFloat() / f.height)
        val dx = (width - f.width * scale) / 2
        val dy = (height - f.height * scale) / 2
        for (face in f.faces) {
            var left = face.box.left * scale + dx
            var right = face.box.right * scale + dx
            if (mirrored) {
                val l = width - right
                right = width - left
                left = l
            }
            val rect = RectF(left, face.box.top * scale + dy, right, face.box.bottom * scale + dy)
            val colour = if (face.result.label == "real") Color.GREEN else Color.RED
            box.color = colour
            text.color = colour
            canvas.drawRect(rect, box)
            canvas.drawText("%s %.2f  %.2f ms".format(face.result.label, face.result.score,
                face.result.inferenceMs), rect.left, rect.top - 12f, text)
        }
    }
}
