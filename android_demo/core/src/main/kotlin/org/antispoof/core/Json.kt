package org.antispoof.core

/**
 * A small JSON reader (objects → Map, arrays → List, numbers → Double, strings, booleans, null),
 * enough for `model.json` on the JVM and on Android without a dependency.
 */
class Json private constructor(private val text: String) {
    private var i = 0

    companion object {
        fun parse(text: String): Any? {
            val reader = Json(text)
            val value = reader.value()
            reader.space()
            if (reader.i != text.length) reader.fail("trailing characters")
            return value
        }
    }

    private fun fail(problem: String): Nothing = throw IllegalArgumentException("JSON: $problem at offset $i")

    private fun space() {
        while (i < text.length && text[i].isWhitespace()) i++
    }

    private fun value(): Any? {
        space()
        if (i >= text.length) fail("unexpected end")
        return when (text[i]) {
            '{' -> obj()
            '[' -> array()
            '"' -> string()
            't' -> literal("true", true)
            'f' -> literal("false", false)
            'n' -> literal("null", null)
            else -> number()
        }
    }

    private fun literal(word: String, result: Any?): Any? {
        if (!text.startsWith(word, i)) fail("unexpected character '${text[i]}'")
        i += word.length
        return result
    }

    private fun obj(): Map<String, Any?> {
        val map = LinkedHashMap<String, Any?>()
        i++
        space()
        if (i < text.length && text[i] == '}') { i++; return map }
        while (true) {
            space()
            if (i >= text.length || text[i] != '"') fail("expected a key")
            val key = string()
            space()
            if (i >= text.length || text[i] != ':') fail("expected ':'")
            i++
            map[key] = value()
            space()
            if (i >= text.length) fail("unexpected end")
            val separator = text[i++]
            if (separator == '}') return map
            if (separator != ',') fail("expected ',' or '}'")
        }
    }

    private fun array(): List<Any?> {
        val list = ArrayList<Any?>()
        i++
        space()
        if (i < text.length && text[i] == ']') { i++; return list }
        while (true) {
            list.add(value())
            space()
            if (i >= text.length) fail("unexpected end")
            val separator = text[i++]
            if (separator == ']') return list
            if (separator != ',') fail("expected ',' or ']'")
        }
    }

    private fun string(): String {
        val out = StringBuilder()
        i++
        while (true) {
            if (i >= text.length) fail("unterminated string")
            val c = text[i++]
            when (c) {
                '"' -> return out.toString()
                '\\' -> {
                    if (i >= text.length) fail("unterminated escape")
                    when (val e = text[i++]) {
                        'n' -> out.append('\n')
                        't' -> out.append('\t')
                        'r' -> out.append('\r')
                        'b' -> out.append('\b')
                        'f' -> out.append('\u000C')
                        'u' -> {
                            if (i + 4 > text.length) fail("short \\u escape")
                            out.append(text.substring(i, i + 4).toInt(16).toChar())
                            i += 4
                        }
                        else -> out.append(e)
                    }
                }
                else -> out.append(c)
            }
        }
    }

    private fun number(): Double {
        val start = i
        while (i < text.length && (text[i].isDigit() || text[i] in "+-.eE")) i++
        return text.substring(start, i).toDoubleOrNull() ?: fail("bad number '${text.substring(start, i)}'")
    }
}
