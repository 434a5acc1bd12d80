// The component's entry module, which componentize-js builds:
// `examples/build-polyglot-plugins.sh OUT_DIR` builds it into
// `OUT_DIR/js-domain-allow.wasm`.

import { exportHandler } from '../../guest-sdk/js/src/component.js';
import { DomainAllow } from './domain-allow.js';

export const handler = exportHandler(new DomainAllow());
