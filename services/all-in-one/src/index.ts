export { serviceNames, startParley, type RunningParley, type ServiceName, type StartOptions } from "./start.js";
