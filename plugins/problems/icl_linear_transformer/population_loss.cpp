#include "population_loss.hpp"

namespace muonlab_icl {

void effective_gamma(const ConstMatrixMap& kq, const ConstMatrixMap& pv, Matrix& out) {
  const Eigen::Index d = kq.rows() - 1;
  out.noalias() = pv(d, d) * kq.topLeftCorner(d, d).transpose();
  out.noalias() += kq.row(d).head(d).transpose() * pv.row(d).head(d);
}

PopulationLoss::PopulationLoss(const DataModel& model) : model_(model) {
  const Eigen::Index d = model.d;
  for (Matrix* m : {&rotated_, &gamma_tilde_, &grad_tilde_, &w_, &dw_, &m_}) m->setZero(d, d);
  for (Vector* v : {&c_, &v_, &dc_, &dv_, &dp_, &p_, &q_, &wp_, &wtp_, &mp_, &wq_, &wtq_, &lam_wp_, &lam_wtp_, &lam_mp_,
                    &phi_, &phi_v_, &work_, &work2_}) {
    v->setZero(d);
  }
  // phi = (2/N) lambda^2 + t lambda: E[Lhat tr(Lhat)] = (2/N) Lambda^2 + t Lambda.
  const double inv_n = 1.0 / static_cast<double>(model.n);
  phi_ = 2.0 * inv_n * model.lambda.array().square() + model.trace * model.lambda.array();
}

double PopulationLoss::merged_tilde() {
  grad_tilde_ = gamma_tilde_;
  grad_tilde_.diagonal() -= model_.gamma_star;  // Delta~ = Q^T (Gamma - Gamma*) Q
  const double gap = 0.5 * (model_.hessian.array() * grad_tilde_.array().square()).sum();
  grad_tilde_.array() *= model_.hessian.array();
  return gap;
}

double PopulationLoss::merged(const ConstMatrixMap& gamma, MatrixMap grad) {
  const Matrix& q = model_.q;
  rotated_.noalias() = q.transpose() * gamma;
  gamma_tilde_.noalias() = rotated_ * q;
  const double gap = merged_tilde();
  rotated_.noalias() = q * grad_tilde_;
  grad.noalias() = rotated_ * q.transpose();
  return gap;
}

double PopulationLoss::separate(const ConstMatrixMap& kq, const ConstMatrixMap& pv, MatrixMap grad_kq,
                                MatrixMap grad_pv) {
  const Eigen::Index d = model_.d;
  const Matrix& q = model_.q;
  const double u = pv(d, d);
  rotated_.noalias() = q.transpose() * kq.topLeftCorner(d, d);
  w_.noalias() = rotated_ * q;
  c_.noalias() = q.transpose() * kq.row(d).head(d).transpose();
  v_.noalias() = q.transpose() * pv.row(d).head(d).transpose();

  // Odd part: the merged loss at Gamma~ = u W~^T + c~ v~^T, chained to the blocks.
  gamma_tilde_.noalias() = u * w_.transpose();
  gamma_tilde_.noalias() += c_ * v_.transpose();
  double gap = merged_tilde();
  dw_.noalias() = u * grad_tilde_.transpose();
  dc_.noalias() = grad_tilde_ * v_;
  dv_.noalias() = grad_tilde_.transpose() * c_;
  double du = (grad_tilde_.array() * w_.transpose().array()).sum();

  gap += even_part(u, du);

  grad_kq.setZero();
  grad_pv.setZero();
  rotated_.noalias() = q * dw_;
  grad_kq.topLeftCorner(d, d).noalias() = rotated_ * q.transpose();
  work_.noalias() = q * dc_;
  grad_kq.row(d).head(d) = work_.transpose();
  work_.noalias() = q * dv_;
  grad_pv.row(d).head(d) = work_.transpose();
  grad_pv(d, d) = du;
  return gap;
}

// With A = v^T Lhat W x_q, D = u (w^T Lhat w)(c^T x_q), E = (1/N)(v^T x_q)(x_q^T W x_q), the
// part of the prediction even in w, this returns 1/2 E[(A + D + E)^2]
//   = 1/2 (E[A^2] + E[D^2] + E[E^2]) + E[AD] + E[AE] + E[DE]
// (README.md lists each expectation) and adds its gradient. Lambda = diag(lambda) here.
double PopulationLoss::even_part(double u, double& du) {
  const Vector& lam = model_.lambda;
  const double inv_n = 1.0 / static_cast<double>(model_.n);
  const double t = model_.trace;
  const double kappa4 = (1.0 + 2.0 * inv_n) * (t * t + 2.0 * model_.trace_sq);  // E[(w^T Lhat w)^2]

  p_ = lam.cwiseProduct(v_);
  q_ = lam.cwiseProduct(c_);
  m_ = 0.5 * (w_ + w_.transpose());
  wp_.noalias() = w_ * p_;
  wtp_.noalias() = w_.transpose() * p_;
  mp_ = 0.5 * (wp_ + wtp_);
  wq_.noalias() = w_ * q_;
  wtq_.noalias() = w_.transpose() * q_;
  lam_wp_ = lam.cwiseProduct(wp_);
  lam_wtp_ = lam.cwiseProduct(wtp_);
  lam_mp_ = lam.cwiseProduct(mp_);
  phi_v_ = phi_.cwiseProduct(v_);

  const double sigma = v_.dot(p_);                                                         // v^T Lambda v
  const double trace_wl = w_.diagonal().dot(lam);                                          // T = tr(W Lambda)
  const double trace_wlwl = (lam.asDiagonal() * w_.cwiseAbs2() * lam.asDiagonal()).sum();  // tr(W L W^T L)
  const double trace_mlml = (lam.asDiagonal() * m_.cwiseAbs2() * lam.asDiagonal()).sum();  // tr(M L M L)
  const double rho = p_.dot(mp_);                                                          // p^T M p
  const double tau = mp_.dot(lam_mp_);                                                     // p^T M L M p
  const double c_lambda_c = c_.dot(q_);
  const double cp = c_.dot(p_);
  const double pwp = p_.dot(wp_);
  const double q_w_p = q_.dot(wp_) + q_.dot(wtp_);  // q^T (W + W^T) p

  const double e_a2 = (1.0 + inv_n) * wtp_.dot(lam_wtp_) + inv_n * sigma * trace_wlwl;
  const double e_d2 = u * u * kappa4 * c_lambda_c;
  const double e_e2 =
      inv_n * inv_n * (sigma * trace_wl * trace_wl + 2.0 * sigma * trace_mlml + 4.0 * trace_wl * rho + 8.0 * tau);
  const double e_ad = u * phi_v_.dot(wq_);
  const double e_ae = inv_n * (pwp * trace_wl + lam_wtp_.dot(wp_) + wtp_.dot(lam_wtp_));
  const double e_de = u * t * inv_n * (cp * trace_wl + q_w_p);

  // Gradient in W~ (dw_ already holds the odd part).
  dw_.noalias() += (1.0 + inv_n) * p_ * lam_wtp_.transpose();
  dw_ += (inv_n * sigma) * (lam.asDiagonal() * w_ * lam.asDiagonal());
  dw_ += (inv_n * inv_n * 2.0 * sigma) * (lam.asDiagonal() * m_ * lam.asDiagonal());
  dw_.diagonal() += (inv_n * inv_n * (sigma * trace_wl + 2.0 * rho)) * lam;
  dw_.noalias() += (inv_n * inv_n * 2.0 * trace_wl) * p_ * p_.transpose();
  dw_.noalias() += (inv_n * inv_n * 4.0) * p_ * lam_mp_.transpose();
  dw_.noalias() += (inv_n * inv_n * 4.0) * lam_mp_ * p_.transpose();
  dw_.noalias() += u * phi_v_ * q_.transpose();
  dw_.noalias() += (inv_n * trace_wl) * p_ * p_.transpose();
  dw_.diagonal() += (inv_n * pwp) * lam;
  dw_.noalias() += inv_n * p_ * lam_wp_.transpose();
  dw_.noalias() += inv_n * lam_wtp_ * p_.transpose();
  dw_.noalias() += (2.0 * inv_n) * p_ * lam_wtp_.transpose();
  dw_.diagonal() += (u * t * inv_n * cp) * lam;
  dw_.noalias() += (u * t * inv_n) * q_ * p_.transpose();
  dw_.noalias() += (u * t * inv_n) * p_ * q_.transpose();

  // Gradient in v~: terms written as Lambda * (gradient in p) collect in dp_.
  work_.noalias() = w_ * lam_wtp_;                        // W L W^T p
  dp_ = (1.0 + inv_n) * work_ + inv_n * trace_wlwl * v_;  // Lambda dp_ = (1+1/N) L W L W^T L v + (1/N) tr(.) L v
  work2_.noalias() = m_ * lam_mp_;                        // M L M p
  dp_ += inv_n * inv_n * (trace_wl * trace_wl * v_ + 2.0 * trace_mlml * v_ + 4.0 * trace_wl * mp_ + 8.0 * work2_);
  work2_.noalias() = w_ * lam_wp_;  // W L W p
  dp_ += inv_n * (trace_wl * (wp_ + wtp_) + work2_);
  work2_.noalias() = w_.transpose() * lam_wtp_;  // W^T L W^T p
  dp_ += inv_n * (work2_ + 2.0 * work_);
  dp_ += (u * t * inv_n) * (trace_wl * c_ + wtq_ + wq_);
  dv_ += lam.cwiseProduct(dp_);
  dv_ += u * phi_.cwiseProduct(wq_);

  // Gradient in c~.
  dc_ += (u * u * kappa4) * q_;
  work_.noalias() = w_.transpose() * phi_v_;
  dc_ += u * lam.cwiseProduct(work_);
  dc_ += (u * t * inv_n) * (trace_wl * p_ + lam_wp_ + lam_wtp_);

  du += u * kappa4 * c_lambda_c + phi_v_.dot(wq_) + t * inv_n * (cp * trace_wl + q_w_p);

  return 0.5 * (e_a2 + e_d2 + e_e2) + e_ad + e_ae + e_de;
}

}  // namespace muonlab_icl
