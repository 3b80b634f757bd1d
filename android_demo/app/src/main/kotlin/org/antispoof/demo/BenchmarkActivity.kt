package org.antispoof.demo

import android.app.Activity
import android.os.Build
import android.os.Bundle
import android.util.Log
import android.widget.TextView
import org.antispoof.android.BuildConfig
import org.antispoof.android.FaceAntiSpoofer
import org.antispoof.core.BenchmarkStats
import java.io.File
import java.util.Random

/**
 * Benchmark mode, started over adb (what `antispoof bench --target adb --app` runs):
 *
 *     adb shell am start -W -n org.antispoof.demo/.BenchmarkActivity \
 *         --es model /data/local/tmp/antispoof-bench/model.tflite --ei threads 1 --ei runs 200
 *
 * Times model load (init), the first inference, `warmup` and `runs` inferences in the app's
 * foreground process, and writes the toolkit runner's JSON fields to files/benchmark.json and
 * to logcat (tag antispoof-bench). Without `model`, the bundled model is timed.
 */
class BenchmarkActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(TextView(this).apply { setText(R.string.benchmark_running) })
        val threads = intent.getIntExtra("threads", 1)
        val runs = intent.getIntExtra("runs", 200)
        val warmup = intent.getIntExtra("warmup", 20)
        val xnnpack = intent.getBooleanExtra("xnnpack", true)
        val model = intent.getStringExtra("model")
        Thread {
            val json = try {
                measure(model, threads, runs, warmup, xnnpack)
            } catch (e: Exception) {
                "{\"error\": ${quote(e.toString())}}"
            }
            val out = File(filesDir, "benchmark.json")
            val tmp = File(filesDir, "benchmark.json.tmp")
            tmp.writeText(json + "\n")
            tmp.renameTo(out)
            Log.i(TAG, json)
            runOnUiThread { finish() }
        }.start()
    }

    private fun measure(model: String?, threads: Int, runs: Int, warmup: Int, xnnpack: Boolean): String {
        val options = FaceAntiSpoofer.Options(threads, xnnpack)
        val startRss = rssMb()
        val loadStart = System.nanoTime()
        val spoofer = if (model == null) FaceAntiSpoofer.fromAssets(this, options = options) else {
            // the model.json pushed beside the model, else the bundled one
            val sibling = File(File(model).parentFile, FaceAntiSpoofer.CONTRACT)
            val contract = if (sibling.exists()) sibling.readText() else
                assets.open(FaceAntiSpoofer.CONTRACT).use { it.reader().readText() }
            FaceAntiSpoofer.fromBytes(File(model).readBytes(), contract, options)
        }
        val initUs = (System.nanoTime() - loadStart) / 1e3
        val initMb = rssMb() - startRss
        val size = spoofer.contract.inputSize
        spoofer.setInput(ByteArray(size * size * 3).also { Random(0).nextBytes(it) })
        val first = timed(spoofer)
        val warm = DoubleArray(warmup) { timed(spoofer) }
        val timed = DoubleArray(runs) { timed(spoofer) }
        spoofer.close()
        val stats = BenchmarkStats(timed)
        val warmStats = if (warmup > 0) BenchmarkStats(warm).toJson(false) else "{\"count\": 0}"
        val modelFile = model?.let { File(it) }
        return listOf(
            "\"model\": ${quote(model ?: FaceAntiSpoofer.MODEL)}",
            "\"model_bytes\": ${modelFile?.length() ?: assets.openFd(FaceAntiSpoofer.MODEL).length}",
            "\"runtime\": \"litert-android\"",
            "\"runtime_version\": ${quote(BuildConfig.LITERT_VERSION)}",
            "\"kernels\": ${quote(if (xnnpack) "xnnpack" else "builtin")}",
            "\"threads\": $threads",
            "\"machine\": ${quote(Build.SUPPORTED_ABIS.firstOrNull() ?: "unknown")}",
            "\"cpu\": ${quote(if (Build.VERSION.SDK_INT >= 31) Build.SOC_MODEL else Build.HARDWARE)}",
            "\"system\": ${quote("Android " + Build.VERSION.RELEASE + " (" + Build.MODEL + ")")}",
            "\"python\": null",
            "\"init_us\": $initUs",
            "\"first_us\": $first",
            "\"warmup\": $warmStats",
            "\"inference\": ${stats.toJson()}",
            "\"memory_mb\": {\"init\": $initMb, \"overall\": ${rssMb() - startRss}, \"peak_rss\": ${peakRssMb()}}",
            "\"seed\": null",
            "\"checksum\": null",
            "\"deterministic\": null"
        ).joinToString(", ", "{", "}")
    }

    private fun timed(spoofer: FaceAntiSpoofer): Double {
        val start = System.nanoTime()
        spoofer.invoke()
        return (System.nanoTime() - start) / 1e3
    }

    private fun status(field: String): Double =
        File("/proc/self/status").readLines().firstOrNull { it.startsWith(field) }
            ?.split(Regex("\\s+"))?.get(1)?.toDouble()?.div(1024) ?: 0.0

    private fun rssMb() = status("VmRSS:")

    private fun peakRssMb() = status("VmHWM:")

    private fun quote(s: String) = "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\""

    companion object {
        const val TAG = "antispoof-bench"
    }
}
