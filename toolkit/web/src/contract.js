// What the page needs of a model, read from its model.json (antispoof.core.model_contract)
// and checked against the model LiteRT.js loaded; anything it cannot feed is one line.

export class ContractError extends Error {}

const DTYPES = ['uint8', 'float32'];  // input tensors this page makes (LiteRT.js has no int8)
const FILTERS = ['area'];  // resize filters crop.js implements (model.json "resize")

const shape = (details) => `[${Array.from(details.shape).join(', ')}]`;

// {size, input: {dtype, scale, zero_point}, output: {scale, zero_point}, spoofIndex, ...}
export function checkContract(contract, inputs, outputs) {
  const fail = (why) => { throw new ContractError(`${contract.model}: ${why}`); };
  if ((contract.color_order ?? 'RGB') !== 'RGB') fail(`colour order ${contract.color_order}; the page feeds RGB`);
  const resize = contract.resize ?? 'area';
  if (!FILTERS.includes(resize)) fail(`resize filter "${resize}"; the page resizes with ${FILTERS.join(', ')}`);
  if (inputs.length !== 1) fail(`${inputs.length} inputs; the page feeds one face crop`);
  const [input] = inputs, [batch, height, width, channels] = input.shape, size = contract.input_size;
  if (input.shape.length !== 4 || batch !== 1) fail(`input ${shape(input)}; the page feeds [1, size, size, 3]`);
  if (channels !== 3 && height === 3) {
    fail(`channels-first input ${shape(input)}; the page feeds [1, height, width, 3] (NHWC)`);
  }
  if (channels !== 3 || height !== size || width !== size) {
    fail(`input ${shape(input)} but model.json says ${size}×${size} RGB`);
  }
  if (!DTYPES.includes(input.dtype)) fail(`${input.dtype} input; the page feeds ${DTYPES.join(' or ')}`);
  if (contract.input.dtype !== input.dtype) {
    fail(`model.json says ${contract.input.dtype} input, the model takes ${input.dtype}`);
  }
  const scores = outputs.length === 1 ? outputs[0].shape.reduce((a, b) => a * b, 1) : 0;
  const labels = contract.labels ?? ['real', 'spoof'];
  const spoofIndex = scores === 1 ? 0 : scores === labels.length ? labels.indexOf('spoof') : -1;
  if (spoofIndex < 0) fail(`output ${outputs.map(shape).join(' ')}; the page reads P(spoof) or one score per label`);
  return {size, input: contract.input, output: contract.output, spoofIndex,
          cropScale: contract.crop_scale ?? 1.1, threshold: contract.threshold ?? 0.5};
}

// The model input tensor's values for an RGB crop: q = pixel / scale + zero_point.
export function quantizeInput(rgb, input) {
  if (input.dtype === 'float32') {
    const out = new Float32Array(rgb.length);
    for (let i = 0; i < rgb.length; i++) out[i] = rgb[i] / input.scale + input.zero_point;
    return out;
  }
  if (input.scale === 1 && input.zero_point === 0) return rgb;
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) out[i] = Math.round(rgb[i] / input.scale + input.zero_point);
  return out;
}

// P(spoof) from the output tensor's values: (q - zero_point) * scale.
export function spoofScore(values, output, spoofIndex) {
  return (values[spoofIndex] - output.zero_point) * output.scale;
}
