// Camera frame → BlazeFace (MediaPipe Tasks, the model the mediapipe wheel bundles, as
// `antispoof predict` runs it) → face crop (crop.js) → the model (LiteRT.js, WebAssembly) →
// P(spoof), with the threshold and smoothing of model.json and `predict --smooth`.
import {loadAndCompile, loadLiteRt, Tensor} from '@litertjs/core';
import {FaceDetector, FilesetResolver} from '@mediapipe/tasks-vision';
import {checkContract, ContractError, quantizeInput, spoofScore} from './contract.js';
import {cropFace} from './crop.js';
import {Smoother} from './smoothing.js';

// Where `antispoof web` puts things, relative to the page.
export const FILES = {
  contract: 'model/model.json',
  detector: 'model/face_detection_short_range.tflite',
  litert: 'litert/',
  mediapipe: 'mediapipe/',
};

export class Liveness {
  // threads: model threads (more than 1 needs a cross-origin isolated page); smoothing: the
  // weight of the past in the exponential average of P(spoof), 0 for none.
  static async create({threads = 1, smoothing = 0} = {}) {
    const contract = await fetchJson(FILES.contract);
    const threaded = threads > 1 && globalThis.crossOriginIsolated === true;
    await loadLiteRt(FILES.litert, threaded ? {threads: true} : {});
    const modelUrl = new URL(contract.model, new URL(FILES.contract, location.href)).href;
    let model;
    try {
      model = await loadAndCompile(modelUrl, {accelerator: 'wasm', cpuOptions: {numThreads: threaded ? threads : 1}});
    } catch (error) {  // e.g. "Element type INT8 is not supported": LiteRT.js's own words
      throw new ContractError(`${contract.model}: LiteRT.js cannot load it (${error.message})`);
    }
    const spec = checkContract(contract, model.getInputDetails(), model.getOutputDetails());
    const fileset = await FilesetResolver.forVisionTasks(FILES.mediapipe);
    const detector = await FaceDetector.createFromOptions(fileset, {
      baseOptions: {modelAssetPath: FILES.detector}, runningMode: 'IMAGE', minDetectionConfidence: 0.5});
    return new Liveness(contract, spec, model, detector, threaded ? threads : 1, smoothing);
  }

  constructor(contract, spec, model, detector, threads, smoothing) {
    Object.assign(this, {contract, spec, model, detector, threads});
    this.smoother = new Smoother(smoothing);
  }

  // A new source (another file, the camera): the smoothing starts again.
  restart() {
    this.smoother.update(null);
  }

  // P(spoof) of one size × size RGB crop.
  async score(rgb) {
    const {size, input, output, spoofIndex} = this.spec;
    const tensor = new Tensor(quantizeInput(rgb, input), [1, size, size, 3]);
    const [result] = await this.model.run([tensor]);
    tensor.delete();
    const values = result.toTypedArray();
    result.delete();
    return spoofScore(values, output, spoofIndex);
  }

  // Every face of an RGBA frame, largest first: box [x, y, w, h], P(spoof), the smoothed
  // P(spoof) of the largest and its label; detection, crop and model times in ms.
  async frame(image) {
    const {data, width, height} = image, {size, cropScale, threshold} = this.spec;
    const start = performance.now();
    const faces = this.detector.detect(image).detections
      .map((d) => ({box: [d.boundingBox.originX, d.boundingBox.originY, d.boundingBox.width, d.boundingBox.height],
                    detectorScore: d.categories[0].score}))
      .sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3]);
    const detected = performance.now();
    const crops = faces.map((face) => cropFace(data, width, height, face.box, size, cropScale));
    const cropped = performance.now();
    for (const [i, face] of faces.entries()) face.score = await this.score(crops[i]);
    const done = performance.now();
    const smoothed = this.smoother.update(faces.length ? faces[0].score : null);
    faces.forEach((face, i) => {
      face.smoothed = i === 0 ? smoothed : face.score;
      face.label = face.smoothed >= threshold ? 'spoof' : 'real';
    });
    return {faces, detectMs: detected - start, cropMs: cropped - detected, modelMs: done - cropped};
  }
}

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new ContractError(`${url}: ${response.status} ${response.statusText}`);
  return response.json();
}
