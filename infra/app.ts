import { App } from 'aws-cdk-lib';
import { PlanInvalidError } from '../functions/lib/errors.js';
import { addLifeboatStacks, loadPlanFile, planPathFrom } from './lifeboat-app.js';

/**
 * `npx cdk synth|deploy [-c plan=path/to/plan.json]`. A plan that does not validate stops synthesis here, with
 * every problem and its field path, and a non-zero exit.
 */
const app = new App();
try {
  const plan = loadPlanFile(planPathFrom(app));
  addLifeboatStacks(app, plan);
} catch (error) {
  if (!(error instanceof PlanInvalidError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
app.synth();
