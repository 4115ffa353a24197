import { LambdaClient } from '@aws-sdk/client-lambda';
import { provideClient } from '../clients.js';

/** Makes `clientsFor(...).lambda` available to the bundle that imports this module (docs/design/packaging.md, "Bundle size"). */
provideClient('lambda', (config) => new LambdaClient(config));
