import { RDSClient } from '@aws-sdk/client-rds';
import { provideClient } from '../clients.js';

/** Makes `clientsFor(...).rds` available to the bundle that imports this module (docs/design/packaging.md, "Bundle size"). */
provideClient('rds', (config) => new RDSClient(config));
