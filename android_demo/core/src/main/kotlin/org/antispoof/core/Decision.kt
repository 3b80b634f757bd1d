package org.antispoof.core

/** A call on one face: its label at the threshold, and the score it was made on. */
data class Decision(val label: String, val score: Double) {
    companion object {
        /** "spoof" when P(spoof) ≥ threshold, as `antispoof predict`. */
        fun of(score: Double, threshold: Double): Decision =
            Decision(if (score >= threshold) "spoof" else "real", score)
    }
}

/**
 * Temporal smoothing over video frames, as `antispoof predict --smooth A`: an exponential
 * average where A is the weight of the past; a frame without a face resets it.
 */
class ScoreSmoother(private val past: Double) {
    private var value: Double? = null

    init {
        require(past >= 0.0 && past < 1.0) { "smoothing weight must be in [0, 1), got $past" }
    }

    fun update(score: Double): Double {
        val previous = value
        val next = if (previous == null) score else past * previous + (1 - past) * score
        value = next
        return next
    }

    fun reset() {
        value = null
    }
}
