import java.net.URI

plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "org.antispoof.demo"
    compileSdk = 35
    defaultConfig {
        applicationId = "org.antispoof.demo"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }
    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_1_8
        targetCompatibility = JavaVersion.VERSION_1_8
    }
    kotlinOptions { jvmTarget = "1.8" }
    androidResources { noCompress += "tflite" }
    sourceSets["main"].assets.srcDir(layout.buildDirectory.dir("generated/models"))
}

// The model and its contract come from the repository's models/ folder, not from a copy in git.
val copyModels by tasks.registering(Copy::class) {
    from(rootProject.file("../models")) { include("antispoof_int8.tflite", "model.json") }
    into(layout.buildDirectory.dir("generated/models"))
}

// MediaPipe's BlazeFace short-range detector, as MediaPipe's own Android samples fetch it.
val faceDetector = layout.buildDirectory.file("generated/models/blaze_face_short_range.tflite")
val downloadFaceDetector by tasks.registering {
    outputs.file(faceDetector)
    doLast {
        val url = "https://storage.googleapis.com/mediapipe-models/face_detector/" +
            "blaze_face_short_range/float16/latest/blaze_face_short_range.tflite"
        URI(url).toURL().openStream().use { input ->
            faceDetector.get().asFile.apply { parentFile.mkdirs() }.outputStream().use { input.copyTo(it) }
        }
    }
}

tasks.named("preBuild") { dependsOn(copyModels, downloadFaceDetector) }

dependencies {
    implementation(project(":antispoof"))
    implementation(libs.mediapipe.tasks.vision)
    implementation(libs.camerax.core)
    implementation(libs.camerax.camera2)
    implementation(libs.camerax.lifecycle)
    implementation(libs.camerax.view)
    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.appcompat)
    implementation(libs.androidx.activity)
    implementation(libs.androidx.constraintlayout)
}
