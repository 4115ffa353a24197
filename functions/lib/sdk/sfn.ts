import { SFNClient } from '@aws-sdk/client-sfn';
import { provideClient } from '../clients.js';

/** Makes `clientsFor(...).sfn` available to the bundle that imports this module (docs/design/packaging.md, "Bundle size"). */
provideClient('sfn', (config) => new SFNClient(config));
