import { Route53Client } from '@aws-sdk/client-route-53';
import { provideClient } from '../clients.js';

/** Makes `clientsFor(...).route53` available to the bundle that imports this module (docs/design/packaging.md, "Bundle size"). */
provideClient('route53', (config) => new Route53Client(config));
