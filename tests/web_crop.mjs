// Crops of the page's crop.js for tests/test_web.py: reads a JSON job from argv[2]
// ({frame: RGBA file, width, height, size, scale, boxes}), writes the crops, one after another,
// to argv[3].
import {readFileSync, writeFileSync} from 'node:fs';
import {cropFace} from '../toolkit/web/src/crop.js';

const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const rgba = new Uint8Array(readFileSync(job.frame));
const crops = job.boxes.map((box) => cropFace(rgba, job.width, job.height, box, job.size, job.scale));
writeFileSync(process.argv[3], Buffer.concat(crops.map((c) => Buffer.from(c))));
