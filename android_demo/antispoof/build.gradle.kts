// The wrapper an app developer copies or depends on: FaceAntiSpoofer over LiteRT's Interpreter,
// with the preprocessing of :core (the same bytes as the Python toolkit).
plugins {
    alias(libs.plugins.android.library)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "org.antispoof.android"
    compileSdk = 35
    defaultConfig {
        minSdk = 24
        buildConfigField("String", "LITERT_VERSION", "\"${libs.versions.litert.get()}\"")
    }
    buildFeatures { buildConfig = true }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_1_8
        targetCompatibility = JavaVersion.VERSION_1_8
    }
    kotlinOptions { jvmTarget = "1.8" }
}

dependencies {
    api(project(":core"))
    api(libs.litert)
}
