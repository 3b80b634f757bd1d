package org.antispoof.selftest;

import android.app.Activity;
import android.os.Bundle;
import android.widget.TextView;

import org.antispoof.core.Box;
import org.antispoof.core.ModelContract;
import org.antispoof.core.Preprocessor;
import org.antispoof.core.Quantization;
import org.antispoof.core.RgbImage;

import java.util.Arrays;

/**
 * The pure part on a device, without LiteRT (which only Google's Maven has): crops and quantizes
 * a synthetic 320×240 frame as the toolkit would and shows a hash of the tensor. Java 8, no
 * lambdas, so that Debian's dx can dex it.
 */
public class SelfTestActivity extends Activity {
    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        byte[] pixels = new byte[320 * 240 * 3];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (byte) ((i * 31) % 251);
        }
        ModelContract contract = new ModelContract("antispoof_int8.tflite", 64, "RGB",
                new Quantization("int8", 1.0, -128), new Quantization("int8", 1.0 / 256, -128),
                0.5, Arrays.asList("real", "spoof"), 1.1, "area");
        Preprocessor preprocessor = new Preprocessor(contract);
        RgbImage frame = new RgbImage(320, 240, pixels);
        byte[] tensor = preprocessor.quantize(preprocessor.crop(frame, new Box(100, 50, 120, 130)));
        TextView view = new TextView(this);
        view.setText("antispoof core: 64x64x3 int8 tensor, hash " + Arrays.hashCode(tensor));
        setContentView(view);
    }
}
