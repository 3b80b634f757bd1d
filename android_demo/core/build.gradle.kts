// The part of the demo that needs no Android library: plain Kotlin, JVM unit tests. It also
// compiles with Debian's kotlinc 1.3 (the Python suite does that, and runs the tests).
plugins {
    alias(libs.plugins.kotlin.jvm)
}

java {
    sourceCompatibility = JavaVersion.VERSION_1_8
    targetCompatibility = JavaVersion.VERSION_1_8
}

kotlin {
    compilerOptions { jvmTarget.set(org.jetbrains.kotlin.gradle.dsl.JvmTarget.JVM_1_8) }
}

dependencies {
    testImplementation(libs.junit)
}
