package org.antispoof.core

import java.io.File

/**
 * The pure part from a shell, for the Python suite's parity test (the same inputs through the
 * toolkit and through this code must give the same tensors and numbers):
 *
 *     crop FRAME.rgb WIDTH HEIGHT X Y W H MODEL.json OUT.bin   quantized input tensor
 *     contract MODEL.json                                      the parsed contract
 *     stats TIMES.txt                                          benchmark statistics (µs)
 *     smooth PAST THRESHOLD SCORE...                           smoothed scores and labels
 */
fun main(args: Array<String>) {
    if (args.isEmpty()) usage()
    when (args[0]) {
        "crop" -> {
            if (args.size != 10) usage()
            val (width, height) = Pair(args[2].toInt(), args[3].toInt())
            val frame = RgbImage(width, height, File(args[1]).readBytes())
            val box = Box(args[4].toInt(), args[5].toInt(), args[6].toInt(), args[7].toInt())
            val pre = Preprocessor(ModelContract.parse(File(args[8]).readText()))
            File(args[9]).writeBytes(pre.quantize(pre.crop(frame, box)))
        }
        "contract" -> println(ModelContract.parse(File(args[1]).readText()))
        "stats" -> {
            val times = File(args[1]).readLines().filter { it.isNotBlank() }.map { it.trim().toDouble() }
            println(BenchmarkStats(times.toDoubleArray()).toJson())
        }
        "smooth" -> {
            val smoother = ScoreSmoother(args[1].toDouble())
            val threshold = args[2].toDouble()
            for (score in args.drop(3).map { it.toDouble() }) {
                val d = Decision.of(smoother.update(score), threshold)
                println("${d.score} ${d.label}")
            }
        }
        else -> usage()
    }
}

private fun usage(): Nothing {
    System.err.println("usage: crop FRAME.rgb W H X Y BW BH MODEL.json OUT.bin | contract MODEL.json | " +
        "stats TIMES.txt | smooth PAST THRESHOLD SCORE...")
    System.exit(2)
    throw IllegalStateException()
}
