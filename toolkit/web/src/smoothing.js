// Temporal smoothing of the largest face's P(spoof), as `antispoof predict --smooth W` does it:
// an exponential average with W the weight of the past, restarted when a frame has no face.
export class Smoother {
  constructor(weight) {
    this.weight = weight;
    this.value = null;
  }

  update(score) {
    if (score === null) return (this.value = null);
    this.value = this.value === null ? score : this.weight * this.value + (1 - this.weight) * score;
    return this.value;
  }
}
