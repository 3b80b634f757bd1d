package org.antispoof.core

/**
 * `benchmark_model`-style statistics of timings in microseconds, with the same names and
 * definitions as the toolkit's device runner (population std; p50/p90 interpolated linearly
 * between order statistics, as numpy.percentile).
 */
class BenchmarkStats(timesUs: DoubleArray) {
    init {
        require(timesUs.isNotEmpty()) { "no timings" }
    }

    val count = timesUs.size
    val first = timesUs.first()
    val curr = timesUs.last()
    val min = timesUs.fold(Double.POSITIVE_INFINITY) { a, b -> minOf(a, b) }  // same on Kotlin 1.3 and 2
    val max = timesUs.fold(Double.NEGATIVE_INFINITY) { a, b -> maxOf(a, b) }
    val avg = timesUs.sum() / count
    val std = Math.sqrt(timesUs.map { (it - avg) * (it - avg) }.sum() / count)
    private val sorted = timesUs.sortedArray()
    val p50 = percentile(50.0)
    val p90 = percentile(90.0)

    fun percentile(q: Double): Double {
        val rank = q / 100.0 * (count - 1)
        val low = Math.floor(rank).toInt()
        val high = minOf(low + 1, count - 1)
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - low)
    }

    /** The runner's JSON object for these timings. */
    fun toJson(withPercentiles: Boolean = true): String {
        val fields = linkedMapOf("count" to count.toString(), "first" to num(first), "curr" to num(curr),
            "min" to num(min), "max" to num(max), "avg" to num(avg), "std" to num(std))
        if (withPercentiles) {
            fields["p50"] = num(p50)
            fields["p90"] = num(p90)
        }
        return fields.entries.joinToString(", ", "{", "}") { "\"${it.key}\": ${it.value}" }
    }

    private fun num(v: Double) = v.toString()
}
