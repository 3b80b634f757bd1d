// The face crop exactly as the Python side makes it (antispoof.data.faces.crop_square and
// crop_face, antispoof.data.images.to_model_input): a square `scale` × the box's longer side,
// centred on the box, black outside the frame, resized to the model's input with OpenCV's
// INTER_AREA when shrinking and INTER_LINEAR when enlarging. Pure functions over RGBA pixels,
// so Node runs them against OpenCV in the tests.

// Python's round(): halves go to the even neighbour.
export function roundHalfEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// [x, y, side] of the square crop around box [x, y, width, height].
export function cropSquare([x, y, w, h], scale) {
  const side = Math.max(1, roundHalfEven(scale * Math.max(w, h)));
  return [roundHalfEven(x + w / 2 - side / 2), roundHalfEven(y + h / 2 - side / 2), side];
}

// The side × side RGB square at (x, y) of an RGBA frame; outside the frame is black.
function square(rgba, width, height, x, y, side) {
  const out = new Uint8Array(side * side * 3);
  const x0 = Math.max(x, 0), y0 = Math.max(y, 0);
  const x1 = Math.min(x + side, width), y1 = Math.min(y + side, height);
  for (let sy = y0; sy < y1; sy++) {
    let s = (sy * width + x0) * 4, d = ((sy - y) * side + (x0 - x)) * 3;
    for (let sx = x0; sx < x1; sx++, s += 4, d += 3) {
      out[d] = rgba[s]; out[d + 1] = rgba[s + 1]; out[d + 2] = rgba[s + 2];
    }
  }
  return out;
}

// OpenCV's area weights along one axis (computeResizeAreaTab): for each output index, the
// source indices it covers and the share of each, as float32.
function areaTable(src, dst) {
  const scale = 1 / (dst / src), table = [];
  for (let d = 0; d < dst; d++) {
    const f1 = d * scale, f2 = f1 + scale, cell = Math.min(scale, src - f1);
    const s2 = Math.min(Math.floor(f2), src - 1), s1 = Math.min(Math.ceil(f1), s2), taps = [];
    if (s1 - f1 > 1e-3) taps.push([s1 - 1, f32((s1 - f1) / cell)]);
    for (let s = s1; s < s2; s++) taps.push([s, f32(1 / cell)]);
    if (f2 - s2 > 1e-3) taps.push([s2, f32(Math.min(Math.min(f2 - s2, 1), cell) / cell)]);
    table.push(taps);
  }
  return table;
}

// OpenCV's INTER_AREA shrinking (resizeArea_ and resizeAreaFast_): float32 sums in its order,
// rows of horizontal sums weighted into the output, halves rounded to even (cvRound); an
// integer factor averages blocks, the factor 2 with (sum + 2) >> 2 as its SIMD path does.
function resizeArea(rgb, side, size) {
  const out = new Uint8Array(size * size * 3), factor = side / size;
  if (Number.isInteger(factor)) {
    const area = factor * factor, inverse = f32(1 / area);
    for (let dy = 0; dy < size; dy++) {
      for (let dx = 0; dx < size; dx++) {
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          for (let y = dy * factor; y < (dy + 1) * factor; y++) {
            for (let x = dx * factor; x < (dx + 1) * factor; x++) sum += rgb[(y * side + x) * 3 + c];
          }
          out[(dy * size + dx) * 3 + c] = factor === 2 ? (sum + 2) >> 2 : clamp(roundHalfEven(f32(sum * inverse)));
        }
      }
    }
    return out;
  }
  const table = areaTable(side, size), row = new Float32Array(3), sum = new Float32Array(3);
  for (let dy = 0; dy < size; dy++) {
    for (let dx = 0; dx < size; dx++) {
      sum.fill(0);
      for (const [sy, wy] of table[dy]) {
        row.fill(0);
        for (const [sx, wx] of table[dx]) {
          const s = (sy * side + sx) * 3;
          for (let c = 0; c < 3; c++) row[c] = row[c] + f32(rgb[s + c] * wx);
        }
        for (let c = 0; c < 3; c++) sum[c] = sum[c] + f32(wy * row[c]);
      }
      const d = (dy * size + dx) * 3;
      for (let c = 0; c < 3; c++) out[d + c] = clamp(roundHalfEven(sum[c]));
    }
  }
  return out;
}

// OpenCV's INTER_LINEAR for 8-bit pixels (4.11, x86-64), as the Android Resize.linear does it:
// 11-bit fixed-point weights at half-pixel centres; columns past the border take the edge pixel
// alone, rows past it keep their weights and read the edge row twice; the vertical pass rounds in
// two steps, as OpenCV's vectorized code does (16-bit products).
const COEF_SCALE = 1 << 11;

function linearTable(src, dst, rows) {
  const scale = 1 / (dst / src), index = new Int32Array(dst), weight = new Int32Array(dst);
  for (let d = 0; d < dst; d++) {
    let f = f32((d + 0.5) * scale - 0.5), s = Math.floor(f);
    f = f32(f - s);
    if (!rows && s < 0) { s = 0; f = 0; }
    if (!rows && s >= src - 1) { s = src - 1; f = 0; }
    index[d] = s;
    weight[d] = roundHalfEven(f32(f32(1 - f) * COEF_SCALE));
  }
  return [index, weight];
}

function resizeLinear(rgb, side, size) {
  const out = new Uint8Array(size * size * 3);
  const [xs, xw] = linearTable(side, size, false), [ys, yw] = linearTable(side, size, true);
  const edge = (v) => Math.max(0, Math.min(v, side - 1));
  for (let dy = 0; dy < size; dy++) {
    const y0 = edge(ys[dy]), y1 = edge(ys[dy] + 1), b0 = yw[dy], b1 = COEF_SCALE - b0;
    for (let dx = 0; dx < size; dx++) {
      const x0 = xs[dx], x1 = Math.min(x0 + 1, side - 1), a0 = xw[dx], a1 = COEF_SCALE - a0;
      const d = (dy * size + dx) * 3;
      for (let c = 0; c < 3; c++) {
        const p = (y, x) => rgb[(y * side + x) * 3 + c];
        const top = p(y0, x0) * a0 + p(y0, x1) * a1, bottom = p(y1, x0) * a0 + p(y1, x1) * a1;
        out[d + c] = clamp((((b0 * (top >> 4)) >> 16) + ((b1 * (bottom >> 4)) >> 16) + 2) >> 2);
      }
    }
  }
  return out;
}

const f32 = Math.fround;
const clamp = (v) => (v < 0 ? 0 : v > 255 ? 255 : v);

// The size × size RGB model input (Uint8Array, row-major, RGB interleaved) for one face box.
export function cropFace(rgba, width, height, box, size, scale) {
  const [x, y, side] = cropSquare(box, scale);
  const rgb = square(rgba, width, height, x, y, side);
  return side > size ? resizeArea(rgb, side, size) : resizeLinear(rgb, side, size);
}
