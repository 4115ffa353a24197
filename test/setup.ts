import '../local/node20.js';
