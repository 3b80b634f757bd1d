package org.antispoof.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

class CropGeometryTest {
    @Test
    fun squareIsCentredAndScaledWithHalfEvenRounding() {
        assertEquals(Square(9, 9, 22), CropGeometry.square(Box(10, 10, 20, 20), 1.1))
        // 1.5 × 3 = 4.5 rounds to 4 and 1.5 × 5 = 7.5 to 8, as Python's round()
        assertEquals(4, CropGeometry.square(Box(0, 0, 3, 3), 1.5).side)
        assertEquals(8, CropGeometry.square(Box(0, 0, 5, 5), 1.5).side)
        // the longer side sets the square; it stays centred on the box
        assertEquals(Square(-5, 0, 40), CropGeometry.square(Box(0, 0, 30, 40), 1.0))
    }

    @Test
    fun partsOutsideTheFrameAreBlack() {
        val frame = RgbImage(4, 4, ByteArray(48) { 100 })
        val crop = CropGeometry.cut(frame, Box(-2, -2, 4, 4), 1.0)
        assertEquals(4, crop.width)
        assertEquals(0, crop.get(0, 0, 0))
        assertEquals(0, crop.get(1, 3, 2))
        assertEquals(100, crop.get(2, 2, 1))
        assertEquals(100, crop.get(3, 3, 0))
    }
}

class ResizeTest {
    @Test
    fun areaKeepsAConstantImageConstant() {
        val flat = RgbImage(150, 150, ByteArray(150 * 150 * 3) { 77 })
        val small = Resize.toSquare(flat, 64)
        assertTrue(small.data.all { it.toInt() == 77 })
    }

    @Test
    fun halvingAveragesBlocksRoundingHalfUp() {
        val src = RgbImage(2, 2, byteArrayOf(1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4))
        assertEquals(3, Resize.area(src, 1, 1).get(0, 0, 0))  // (1 + 2 + 3 + 4 + 2) >> 2
    }

    @Test
    fun enlargingInterpolatesBetweenNeighbours() {
        val src = RgbImage(2, 1, byteArrayOf(0, 0, 0, 100, 100, 100))
        val big = Resize.linear(src, 4, 1)
        val row = (0 until 4).map { big.get(it, 0, 0) }
        assertEquals(listOf(0, 25, 75, 100), row)
    }
}

class PreprocessorTest {
    private fun contract(dtype: String, scale: Double, zeroPoint: Int) = ModelContract(
        "m.tflite", 2, "RGB", Quantization(dtype, scale, zeroPoint), Quantization("int8", 1 / 256.0, -128),
        0.5, listOf("real", "spoof"), 1.0, "area")

    @Test
    fun int8InputIsPixelMinus128() {
        val crop = RgbImage(1, 1, byteArrayOf(0, 128.toByte(), 255.toByte()))
        assertArrayEquals(byteArrayOf(-128, 0, 127), Preprocessor(contract("int8", 1.0, -128)).quantize(crop))
    }

    @Test
    fun otherScalesRoundAndClamp() {
        val crop = RgbImage(1, 1, byteArrayOf(3, 5, 255.toByte()))
        // 3 / 2 + 10 = 11.5 → 12 (half to even), 5 / 2 + 10 = 12.5 → 12, 255 / 2 + 10 → 137.5 → 138
        val q = Preprocessor(contract("uint8", 2.0, 10)).quantize(crop)
        assertEquals(listOf(12, 12, 138), q.map { it.toInt() and 0xFF })
    }

    @Test
    fun scoreDequantizesTheOutput() {
        assertEquals(0.5, Preprocessor(contract("int8", 1.0, -128)).score(0), 1e-12)
        assertEquals(0.0, Preprocessor(contract("int8", 1.0, -128)).score(-128), 1e-12)
    }
}

class JsonTest {
    @Test
    fun parsesNestedValuesAndEscapes() {
        val value = Json.parse("""{"a": [1, -2.5e1, true, null], "b": {"c": "x\"y\u00e9"}}""") as Map<*, *>
        assertEquals(listOf(1.0, -25.0, true, null), value["a"])
        assertEquals("x\"yé", (value["b"] as Map<*, *>)["c"])
    }

    @Test(expected = IllegalArgumentException::class)
    fun rejectsTrailingGarbage() {
        Json.parse("{} x")
    }
}

class ModelContractTest {
    private val text = """{"model": "antispoof_int8.tflite", "input_size": 64, "color_order": "RGB",
        "input": {"dtype": "int8", "scale": 1.0, "zero_point": -128},
        "output": {"dtype": "int8", "scale": 0.00390625, "zero_point": -128},
        "threshold": 0.42578125, "labels": ["real", "spoof"], "crop_scale": 1.1, "resize": "area"}"""

    @Test
    fun readsTheFieldsThatMatter() {
        val c = ModelContract.parse(text)
        assertEquals(64, c.inputSize)
        assertEquals(Quantization("int8", 0.00390625, -128), c.output)
        assertEquals(0.42578125, c.threshold, 0.0)
        assertEquals(1.1, c.cropScale, 0.0)
        assertEquals("area", c.resize)
    }

    /** The message of the IllegalArgumentException that parsing [json] must raise. */
    private fun parseError(json: String): String = try {
        ModelContract.parse(json)
        throw AssertionError("no error")
    } catch (e: IllegalArgumentException) {
        e.message!!
    }

    @Test
    fun refusesAResizeFilterItDoesNotImplement() {
        val bilinear = text.replace("\"resize\": \"area\"", "\"resize\": \"bilinear\"")
        assertTrue(parseError(bilinear).contains("resize filter bilinear"))
    }

    @Test
    fun namesAMissingField() {
        val noThreshold = text.replace("\"threshold\": 0.42578125,", "")
        assertEquals("model.json: missing \"threshold\"", parseError(noThreshold))
    }
}

class DecisionTest {
    @Test
    fun thresholdIsInclusiveForSpoof() {
        assertEquals("spoof", Decision.of(0.5, 0.5).label)
        assertEquals("real", Decision.of(0.4999, 0.5).label)
    }

    @Test
    fun smootherIsAnExponentialAverageThatResets() {
        val s = ScoreSmoother(0.75)
        assertEquals(1.0, s.update(1.0), 1e-12)
        assertEquals(0.75, s.update(0.0), 1e-12)
        assertEquals(0.5625, s.update(0.0), 1e-12)
        s.reset()
        assertEquals(0.2, s.update(0.2), 1e-12)
    }
}

class BenchmarkStatsTest {
    @Test
    fun matchesNumpyDefinitions() {
        val s = BenchmarkStats(doubleArrayOf(4.0, 1.0, 3.0, 2.0))
        assertEquals(4, s.count)
        assertEquals(4.0, s.first, 0.0)
        assertEquals(2.0, s.curr, 0.0)
        assertEquals(2.5, s.avg, 0.0)
        assertEquals(Math.sqrt(1.25), s.std, 1e-12)
        assertEquals(2.5, s.p50, 1e-12)
        assertEquals(3.7, s.p90, 1e-12)
    }

    @Test(expected = IllegalArgumentException::class)
    fun refusesNoTimings() {
        BenchmarkStats(DoubleArray(0))
    }

    @Test
    fun jsonHasTheRunnerFields() {
        val json = Json.parse(BenchmarkStats(doubleArrayOf(1.0, 2.0)).toJson()) as Map<*, *>
        assertEquals(listOf("count", "first", "curr", "min", "max", "avg", "std", "p50", "p90"), json.keys.toList())
        assertNull(json["p99"])
    }
}
