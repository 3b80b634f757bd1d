package org.antispoof.core

/** How a tensor's integers map to real values: real = (q - zeroPoint) * scale. */
data class Quantization(val dtype: String, val scale: Double, val zeroPoint: Int)

/**
 * What `model.json` (written by `antispoof build` and `export`) promises about the model beside
 * it: input size and colour order, the crop around the detector box, input and output
 * quantization, the decision threshold on P(spoof), and the labels. Mirrors the fields an app
 * needs of the Python `antispoof.core.model_contract.ModelContract` (a test compares the two).
 */
data class ModelContract(
    val model: String,
    val inputSize: Int,
    val colorOrder: String,
    val input: Quantization,
    val output: Quantization,
    val threshold: Double,
    val labels: List<String>,
    val cropScale: Double,
    val resize: String
) {
    companion object {
        fun parse(text: String): ModelContract {
            val root = Json.parse(text) as? Map<*, *> ?: throw IllegalArgumentException("model.json: not an object")
            fun field(map: Map<*, *>, key: String): Any =
                map[key] ?: throw IllegalArgumentException("model.json: missing \"$key\"")
            fun quantization(key: String): Quantization {
                val q = field(root, key) as Map<*, *>
                return Quantization(field(q, "dtype") as String, (field(q, "scale") as Double),
                    (field(q, "zero_point") as Double).toInt())
            }
            val contract = ModelContract(
                model = field(root, "model") as String,
                inputSize = (field(root, "input_size") as Double).toInt(),
                colorOrder = field(root, "color_order") as String,
                input = quantization("input"),
                output = quantization("output"),
                threshold = field(root, "threshold") as Double,
                labels = (field(root, "labels") as List<*>).map { it as String },
                cropScale = field(root, "crop_scale") as Double,
                resize = field(root, "resize") as String
            )
            require(contract.colorOrder == "RGB") { "model.json: colour order ${contract.colorOrder} is not supported" }
            require(contract.labels == listOf("real", "spoof")) { "model.json: labels must be [real, spoof]" }
            require(contract.resize == "area") { "model.json: resize filter ${contract.resize} is not the one Resize implements (area)" }
            return contract
        }
    }
}
