package org.antispoof.demo

import android.content.Context
import android.graphics.Bitmap
import android.graphics.Matrix
import android.graphics.Rect
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import com.google.mediapipe.framework.image.BitmapImageBuilder
import com.google.mediapipe.tasks.core.BaseOptions
import com.google.mediapipe.tasks.vision.core.RunningMode
import com.google.mediapipe.tasks.vision.facedetector.FaceDetector
import org.antispoof.android.FaceAntiSpoofer
import java.io.Closeable

/** One analysed camera frame: its size (upright), the faces found and called, and timings. */
class FrameResult(val width: Int, val height: Int, val faces: List<FaceCall>, val frameMs: Double)

class FaceCall(val box: Rect, val result: FaceAntiSpoofer.Result)

/**
 * CameraX analyzer: each frame is turned upright, BlazeFace (MediaPipe Tasks) finds the faces,
 * and the anti-spoofing model calls each one real or spoof.
 */
class FaceAnalyzer(context: Context, private val listener: (FrameResult) -> Unit) : ImageAnalysis.Analyzer, Closeable {
    private val detector = FaceDetector.createFromOptions(context,
        FaceDetector.FaceDetectorOptions.builder()
            .setBaseOptions(BaseOptions.builder().setModelAssetPath(FACE_DETECTOR).build())
            .setRunningMode(RunningMode.IMAGE)
            .setMinDetectionConfidence(0.5f)
            .build())
    private val spoofer = FaceAntiSpoofer.fromAssets(context)

    override fun analyze(image: ImageProxy) {
        val start = System.nanoTime()
        val frame = upright(image.toBitmap(), image.imageInfo.rotationDegrees)
        image.close()
        val detections = detector.detect(BitmapImageBuilder(frame).build()).detections()
        val faces = detections.map { detection ->
            val b = detection.boundingBox()
            val box = Rect(b.left.toInt(), b.top.toInt(), b.right.toInt(), b.bottom.toInt())
            FaceCall(box, spoofer.classify(frame, box))
        }
        listener(FrameResult(frame.width, frame.height, faces, (System.nanoTime() - start) / 1e6))
    }

    override fun close() {
        detector.close()
        spoofer.close()
    }

    private fun upright(bitmap: Bitmap, degrees: Int): Bitmap {
        if (degrees == 0) return bitmap
        val matrix = Matrix().apply { postRotate(degrees.toFloat()) }
        return Bitmap.createBitmap(bitmap, 0, 0, bitmap.width, bitmap.height, matrix, true)
    }

    companion object {
        const val FACE_DETECTOR = "blaze_face_short_range.tflite"
    }
}
