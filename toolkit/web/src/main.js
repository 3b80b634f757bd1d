// The page: the camera (or a chosen photo or video) through Liveness, drawn on a canvas.
// Query parameters: ?threads=N (model threads, when the page is cross-origin isolated),
// ?smooth=W (weight of the past in the smoothing; 0.6 by default, 0 for none).
// window.antispoof holds the state, the last frames' results and a model timer, for tests
// and benchmarks/web.py.
import {Liveness} from './liveness.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const HISTORY = 2000;  // results kept in window.antispoof.frames
const page = (window.antispoof = {state: 'loading', error: null, frames: [], liveness: null});

// One line for the user; an error line marks the page's state (a later good line, after a
// file replaced a missing camera, clears it).
function status(line, isError = false) {
  $('status').textContent = line;
  $('status').className = isError ? 'error' : '';
  if (isError) Object.assign(page, {state: 'error', error: line});
  else if (page.state === 'error') Object.assign(page, {state: 'ready', error: null});
}

function draw(canvas, source, width, height, result) {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(source, 0, 0, width, height);
  ctx.lineWidth = Math.max(2, width / 320);
  ctx.font = `${Math.max(14, Math.round(width / 40))}px sans-serif`;
  for (const face of result.faces) {
    const [x, y, w, h] = face.box, colour = face.label === 'spoof' ? '#e53935' : '#43a047';
    ctx.strokeStyle = ctx.fillStyle = colour;
    ctx.strokeRect(x, y, w, h);
    ctx.fillText(`${face.label} ${face.smoothed.toFixed(2)}`, x, Math.max(16, y - 8));
  }
}

function showTimes(result, frameMs) {
  const face = result.faces[0];
  $('label').textContent = face ? `${face.label}  P(spoof) ${face.smoothed.toFixed(3)}` : 'no face';
  $('label').className = face ? face.label : '';
  $('times').textContent = `model ${result.modelMs.toFixed(2)} ms · crop ${result.cropMs.toFixed(1)} ms · ` +
    `detection ${result.detectMs.toFixed(1)} ms` +
    ` · frame ${frameMs.toFixed(1)} ms`;
}

// One frame from a <video> or <img>: its pixels, the result, the drawing.
async function process(source, width, height, work) {
  const start = performance.now();
  work.width = width;
  work.height = height;
  const ctx = work.getContext('2d', {willReadFrequently: true});
  ctx.drawImage(source, 0, 0, width, height);
  const image = ctx.getImageData(0, 0, width, height);
  const result = await page.liveness.frame(image);
  page.lastImage = image;  // the pixels of the last result, as this browser decoded them
  draw($('view'), work, width, height, result);
  const frameMs = performance.now() - start;
  page.frames.push({...result, frameMs, time: start});
  if (page.frames.length > HISTORY) page.frames.shift();
  showTimes(result, frameMs);
  return result;
}

// Every frame of a playing video, until it ends or another source replaces it.
function run(video, work) {
  const token = (page.token = {});
  const next = async () => {
    if (page.token !== token || video.ended) return;
    try {
      await process(video, video.videoWidth, video.videoHeight, work);
    } catch (error) {
      return status(`frame failed: ${error.message}`, true);
    }
    video.requestVideoFrameCallback(next);
  };
  video.requestVideoFrameCallback(next);
}

async function startCamera(video, work) {
  if (!navigator.mediaDevices?.getUserMedia) {
    return status('No camera: this browser gives no camera to this page (it needs https or 127.0.0.1); choose a photo or video below.', true);
  }
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: false});
  } catch (error) {
    return status(`No camera (${error.name}: ${error.message}); choose a photo or video below.`, true);
  }
  await video.play();
  status('Camera on: face the camera.');
  run(video, work);
}

async function openFile(file, video, work) {
  page.token = null;
  page.liveness.restart();
  const url = URL.createObjectURL(file);
  if (file.type.startsWith('image/')) {
    const image = new Image();
    image.src = url;
    try {
      await image.decode();
    } catch {
      return status(`${file.name}: cannot decode this image.`, true);
    }
    await process(image, image.naturalWidth, image.naturalHeight, work);
    return status(`${file.name}: one photo.`);
  }
  video.srcObject = null;
  video.src = url;
  video.loop = false;
  try {
    await video.play();
  } catch {
    return status(`${file.name}: cannot play this file (not a photo or a video the browser decodes).`, true);
  }
  status(`${file.name}: playing.`);
  run(video, work);
}

// The model alone on one crop: the mean milliseconds per run of each block of 10 runs, after
// `warmup` runs (blocks, because a page that is not cross-origin isolated reads the clock to
// 0.1 ms only).
page.timeModel = async (runs = 200, warmup = 20) => {
  const {size} = page.liveness.spec, crop = new Uint8Array(size * size * 3).map((_, i) => (i * 37) % 256);
  for (let i = 0; i < warmup; i++) await page.liveness.score(crop);
  const times = [];
  for (let block = 0; block < Math.ceil(runs / 10); block++) {
    const start = performance.now();
    for (let i = 0; i < 10; i++) await page.liveness.score(crop);
    times.push((performance.now() - start) / 10);
  }
  return times;
};

async function main() {
  const video = $('video'), work = document.createElement('canvas');
  const smoothing = Number(params.get('smooth') ?? 0.6), threads = Number(params.get('threads') ?? 1);
  try {
    page.liveness = await Liveness.create({threads, smoothing});
  } catch (error) {
    return status(error.message, true);
  }
  const {contract, threads: used} = page.liveness;
  $('model').textContent = `${contract.model} · ${contract.input_size}×${contract.input_size} · threshold ` +
    `${(contract.threshold ?? 0.5).toFixed(3)} · LiteRT.js WebAssembly, ${used} thread${used > 1 ? 's' : ''}`;
  page.state = 'ready';
  $('file').addEventListener('change', (event) => event.target.files[0] && openFile(event.target.files[0], video, work));
  if (params.get('camera') !== '0') await startCamera(video, work);
  else status('Choose a photo or video.');
}

main();
