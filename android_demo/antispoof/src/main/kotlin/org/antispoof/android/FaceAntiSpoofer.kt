package org.antispoof.android

import android.content.Context
import android.graphics.Bitmap
import android.graphics.Rect
import org.antispoof.core.Box
import org.antispoof.core.Decision
import org.antispoof.core.ModelContract
import org.antispoof.core.Preprocessor
import org.antispoof.core.RgbImage
import org.tensorflow.lite.Interpreter
import java.io.Closeable
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * Real or spoof for a face in a frame: the antispoof int8 model through LiteRT's Interpreter.
 *
 *     val spoofer = FaceAntiSpoofer.fromAssets(context)          // antispoof_int8.tflite + model.json
 *     val result = spoofer.classify(frameBitmap, detectorBox)   // label, P(spoof), latency
 *
 * The crop around the detector box, its resizing and its quantization follow `model.json` and
 * give the same bytes as the Python toolkit (`antispoof predict`). Not thread-safe: use one
 * instance per thread. Close it to free the interpreter.
 */
class FaceAntiSpoofer(model: ByteBuffer, val contract: ModelContract, val options: Options = Options()) : Closeable {

    /** Interpreter threads, and whether XNNPACK runs the model (LiteRT's default). */
    data class Options(val threads: Int = 1, val useXnnpack: Boolean = true)

    /** P(spoof), its label at the model's threshold, and where the time went. */
    data class Result(val label: String, val score: Float, val preprocessMs: Double, val inferenceMs: Double)

    private val interpreter = Interpreter(model, Interpreter.Options()
        .setNumThreads(options.threads)
        .setUseXNNPACK(options.useXnnpack))
    private val preprocessor = Preprocessor(contract)
    private val input = ByteBuffer.allocateDirect(contract.inputSize * contract.inputSize * 3)
        .order(ByteOrder.nativeOrder())
    private val output = ByteBuffer.allocateDirect(1).order(ByteOrder.nativeOrder())

    init {
        val shape = interpreter.getInputTensor(0).shape()
        require(shape.contentEquals(intArrayOf(1, contract.inputSize, contract.inputSize, 3))) {
            "model input ${shape.contentToString()} does not match model.json's input_size ${contract.inputSize}"
        }
    }

    /** Classify the face inside [box] (detector pixels) of [frame]. */
    fun classify(frame: Bitmap, box: Rect): Result {
        val start = System.nanoTime()
        val crop = preprocessor.crop(toRgb(frame), Box(box.left, box.top, box.width(), box.height()))
        return classifyCrop(crop, start)
    }

    /** Classify a crop already cut and resized to the model's input size. */
    fun classifyCrop(crop: RgbImage, startNanos: Long = System.nanoTime()): Result {
        input.rewind()
        input.put(preprocessor.quantize(crop))
        val ready = System.nanoTime()
        val raw = invoke()
        val done = System.nanoTime()
        val decision = Decision.of(preprocessor.score(raw), contract.threshold)
        return Result(decision.label, decision.score.toFloat(), (ready - startNanos) / 1e6, (done - ready) / 1e6)
    }

    /** One inference on whatever the input buffer holds; the raw output integer. */
    fun invoke(): Int {
        input.rewind()
        output.rewind()
        interpreter.run(input, output)
        return output.get(0).toInt()
    }

    /** Fill the input buffer (benchmark mode). */
    fun setInput(bytes: ByteArray) {
        input.rewind()
        input.put(bytes)
    }

    override fun close() = interpreter.close()

    companion object {
        const val MODEL = "antispoof_int8.tflite"
        const val CONTRACT = "model.json"

        fun fromAssets(context: Context, model: String = MODEL, contract: String = CONTRACT,
                       options: Options = Options()): FaceAntiSpoofer =
            fromBytes(context.assets.open(model).use { it.readBytes() },
                context.assets.open(contract).use { it.reader().readText() }, options)

        fun fromFiles(model: File, contract: File, options: Options = Options()): FaceAntiSpoofer =
            fromBytes(model.readBytes(), contract.readText(), options)

        /** A model file's bytes and its model.json text. */
        fun fromBytes(model: ByteArray, contractJson: String, options: Options = Options()): FaceAntiSpoofer {
            val buffer = ByteBuffer.allocateDirect(model.size).order(ByteOrder.nativeOrder())
            buffer.put(model).rewind()
            return FaceAntiSpoofer(buffer, ModelContract.parse(contractJson), options)
        }

        /** A bitmap's pixels as RGB bytes (alpha dropped). */
        fun toRgb(bitmap: Bitmap): RgbImage {
            val argb = IntArray(bitmap.width * bitmap.height)
            val source = if (bitmap.config == Bitmap.Config.ARGB_8888) bitmap else bitmap.copy(Bitmap.Config.ARGB_8888, false)
            source.getPixels(argb, 0, bitmap.width, 0, 0, bitmap.width, bitmap.height)
            return RgbImage.fromArgb(bitmap.width, bitmap.height, argb)
        }
    }
}
