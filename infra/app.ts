import { App } from 'aws-cdk-lib';
import { PlanInvalidError, ResourceMissingError } from '../functions/lib/errors.js';
import { addLifeboatStacks, loadPlanFile, planPathFrom } from './lifeboat-app.js';

/**
 * `npx cdk synth|deploy [-c plan=path/to/plan.json|.yaml]`. A plan that does not validate, or cannot be read, stops
 * synthesis here, with every problem and its field path, and a non-zero exit.
 */
const app = new App();
try {
  const plan = loadPlanFile(planPathFrom(app));
  addLifeboatStacks(app, plan);
} catch (error) {
  if (!(error instanceof PlanInvalidError || error instanceof ResourceMissingError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
app.synth();
